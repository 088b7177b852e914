// Package deploy tests the deployment files in deploy/: the systemd unit
// passes systemd-analyze verify, and a binary stamped as scripts/release.sh
// stamps it reports its version and commit.
package deploy
