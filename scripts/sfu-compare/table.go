package main

import (
	"fmt"
	"io"
	"sort"
)

// printTable prints one Markdown row per server and size: each figure's
// median over the rounds, and its range.
func printTable(w io.Writer, o *options, all []result, maxes map[string]int) {
	fmt.Fprintf(w, "\n| server | participants | rounds | µs CPU per forwarded packet | RSS per participant (MB) | loss %% | join → media p50 / p95 (ms) | kbit/s per subscriber | errors |\n")
	fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, n := range o.sizes {
		for _, s := range o.servers {
			var rs []result
			for _, r := range all {
				if r.Server == s && r.Participants == n && r.Round > 0 {
					rs = append(rs, r)
				}
			}
			if len(rs) == 0 {
				continue
			}
			errs := 0
			for _, r := range rs {
				errs += r.Errors
			}
			fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s / %s | %s | %d |\n", s, n, len(rs),
				spread(rs, func(r result) float64 { return r.USPerPacket }, "%.1f"),
				spread(rs, func(r result) float64 { return r.RSSPerPartMB }, "%.2f"),
				spread(rs, func(r result) float64 { return r.LossPct }, "%.2f"),
				spread(rs, func(r result) float64 { return r.MediaP50MS }, "%.0f"),
				spread(rs, func(r result) float64 { return r.MediaP95MS }, "%.0f"),
				spread(rs, func(r result) float64 { return r.KbpsPerSub }, "%.0f"),
				errs)
		}
	}
	if o.maxFrom > 0 {
		fmt.Fprintf(w, "\nMost participants under 1%% loss (from %d, step %d):", o.maxFrom, o.maxStep)
		for _, s := range o.servers {
			if m, ok := maxes[s]; ok {
				fmt.Fprintf(w, " %s %d;", s, m)
			} else {
				fmt.Fprintf(w, " %s under %d;", s, o.maxFrom)
			}
		}
		fmt.Fprintln(w)
	}
}

// spread formats the median and, over several rounds, the range.
func spread(rs []result, f func(result) float64, format string) string {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	if len(v) == 1 {
		return fmt.Sprintf(format, med)
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", med, v[0], v[len(v)-1])
}
