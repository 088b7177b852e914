// Package deps holds one test: every external program that parley's tests
// start is installed by scripts/test.sh, so that the README's test command
// passes on a fresh machine and not only where someone installed it by hand.
package deps
