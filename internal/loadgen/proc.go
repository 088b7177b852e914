package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of CPU times in /proc/PID/stat:
// 100 on every architecture Go supports (sysconf(_SC_CLK_TCK) needs cgo).
const clockTicks = 100

// procUsage is one reading of a process's CPU time and memory.
type procUsage struct {
	CPU time.Duration // user + system time since the process started
	RSS int64         // resident set size, bytes
}

// readProc reads /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procUsage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procUsage{}, err
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return procUsage{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procUsage{}, err
	}
	rss, err := parseStatusRSS(status)
	if err != nil {
		return procUsage{}, err
	}
	return procUsage{CPU: cpu, RSS: rss}, nil
}

// parseStatCPU reads utime and stime (fields 14 and 15) of /proc/PID/stat.
// The command name (field 2) is in parentheses and may hold spaces, so the
// fields are counted after its closing parenthesis.
func parseStatCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("loadgen: /proc stat without a command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, errors.New("loadgen: /proc stat too short")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("loadgen: /proc stat with bad CPU times")
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// parseStatusRSS reads VmRSS from /proc/PID/status.
func parseStatusRSS(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, errors.New("loadgen: unexpected VmRSS line " + line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb * 1024, nil
	}
	return 0, errors.New("loadgen: no VmRSS in /proc status")
}
