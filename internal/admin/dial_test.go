package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// POST /api/rooms/{room}/dial hands the room and the callee to Config.Dial
// and answers what it says; without a gateway, 501.
func TestDial(t *testing.T) {
	var got []string
	dial := func(_ context.Context, room, to string) (any, int) {
		got = append(got, room, to)
		if to == "busy" {
			return map[string]any{"error": "busy", "code": 486}, http.StatusConflict
		}
		return map[string]string{"nick": "Phone ***4567"}, http.StatusOK
	}
	for _, c := range []struct {
		dial   DialFunc
		body   string
		status int
		want   string
	}{
		{dial, `{"to":"sip:+15551234567@pbx"}`, 200, `"nick": "Phone ***4567"`},
		{dial, `{"to":"busy"}`, 409, `"error": "busy"`},
		{dial, `{}`, 400, `is required: a SIP URI or a number`},
		{nil, `{"to":"sip:a@b"}`, 501, "no SIP gateway"},
	} {
		mux := http.NewServeMux()
		New(Config{Token: "t", Dial: c.dial}).Register(mux)
		req := httptest.NewRequest("POST", "/api/rooms/lab/dial", strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer t")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s: %d %s, want %d and %q", c.body, rec.Code, rec.Body, c.status, c.want)
		}
	}
	if strings.Join(got, ",") != "lab,sip:+15551234567@pbx,lab,busy" {
		t.Errorf("Dial was called with %q", got)
	}
}

// GET /api/rooms/{room}/dial-in answers what Config.DialIn says; 501
// without a gateway.
func TestDialIn(t *testing.T) {
	for _, c := range []struct {
		dialIn func(string) (any, int)
		status int
		want   string
	}{
		{func(room string) (any, int) { return map[string]string{"pin": "123456", "room": room}, 200 }, 200, `"room": "lab"`},
		{nil, 501, "no SIP gateway"},
	} {
		mux := http.NewServeMux()
		New(Config{Token: "t", DialIn: c.dialIn}).Register(mux)
		req := httptest.NewRequest("GET", "/api/rooms/lab/dial-in", nil)
		req.Header.Set("Authorization", "Bearer t")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%d %s, want %d and %q", rec.Code, rec.Body, c.status, c.want)
		}
	}
}
