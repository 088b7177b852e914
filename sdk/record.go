package sdk

import "context"

// StartRecording asks the server to record the meeting and returns the
// recording's id; we need the record permission (owners and moderators by
// default), which the server checks. A recorder joins the room: everyone
// sees its Occupant.Recording. The files are in the server's
// DATA/recordings/ROOM/ID/ (docs/API.md for the admin API's access).
func (r *Room) StartRecording(ctx context.Context) (string, error) {
	id, err := r.peer.StartRecording(ctx)
	return id, sdkError(err)
}

// StopRecording stops a recording of the room, or all of them with id "";
// it needs the record permission.
func (r *Room) StopRecording(ctx context.Context, id string) error {
	return sdkError(r.peer.StopRecording(ctx, id))
}
