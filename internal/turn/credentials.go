package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST format is HMAC-SHA1 by definition
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Credential is one TURN REST credential (draft-uberti-behave-turn-rest,
// as coturn implements it with use-auth-secret): the username is
// "EXPIRY:USER", EXPIRY in Unix seconds, and the password is
// base64(HMAC-SHA1(secret, username)). Any server that shares the secret
// accepts it until it expires.
type Credential struct {
	Username string
	Password string
	Expires  time.Time // whole seconds, as carried in Username
}

// NewCredential returns user's credential valid until expires. user must
// be non-empty and contain no ':'.
func NewCredential(secret, user string, expires time.Time) (Credential, error) {
	if user == "" || strings.ContainsRune(user, ':') {
		return Credential{}, wrapf(ErrInvalidUser, "%q", user)
	}
	username := strconv.FormatInt(expires.Unix(), 10) + ":" + user
	return Credential{
		Username: username,
		Password: restPassword(secret, username),
		Expires:  time.Unix(expires.Unix(), 0),
	}, nil
}

// restPassword is base64(HMAC-SHA1(secret, username)).
func restPassword(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseRESTUsername splits "EXPIRY:USER" at its first ':'. ok is false
// when EXPIRY is not a decimal number of seconds or USER is empty.
func parseRESTUsername(username string) (expires time.Time, user string, ok bool) {
	stamp, user, found := strings.Cut(username, ":")
	if !found || user == "" || stamp == "" || len(stamp) > 12 {
		return time.Time{}, "", false
	}
	for _, c := range []byte(stamp) {
		if c < '0' || c > '9' {
			return time.Time{}, "", false
		}
	}
	secs, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return time.Time{}, "", false
	}
	return time.Unix(secs, 0), user, true
}
