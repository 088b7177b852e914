// Package record records meetings without a browser: a Recorder joins a
// room as a headless participant (internal/mediapeer) that publishes
// nothing, receives every track through the SFU like anyone else, and
// writes each one as it arrives, audio as Ogg/Opus and video as WebM
// (VP8, VP9) or Matroska (H.264) with Cues and a duration, into DATA/recordings/ROOM/ID/
// beside a manifest.json (who, which track, start offsets on one clock,
// gaps). Packets are reordered before they are written (a jitter buffer
// for audio, pion's samplebuilder for video); lost audio becomes silence
// so that a file's time stays the call's time, and a video track starts at
// a keyframe the recorder asks for (PLI) and asks again after loss.
//
// Composite (composite.go) turns a finished recording into one file with
// Debian's ffmpeg: a grid of the cameras with names, audio mixed; the same
// pipeline pushes a live stream over RTMP. Manager (manager.go) runs the
// recordings of a server: start, stop, list, remove, with disk checks.
package record
