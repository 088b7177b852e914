package loadgen

import (
	"math"
	"slices"
)

// Dist summarizes a distribution by percentiles.
type Dist struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// Spread summarizes values by their mean and extremes.
type Spread struct {
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// distOf returns the nearest-rank percentiles of values; zero for none.
func distOf(values []float64) Dist {
	if len(values) == 0 {
		return Dist{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	return Dist{P50: rank(v, 50), P95: rank(v, 95), Max: v[len(v)-1]}
}

// rank is the nearest-rank percentile p of sorted values.
func rank(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// spreadOf returns the mean, min and max of values; zero for none.
func spreadOf(values []float64) Spread {
	if len(values) == 0 {
		return Spread{}
	}
	s := Spread{Min: values[0], Max: values[0]}
	var sum float64
	for _, v := range values {
		sum += v
		s.Min, s.Max = min(s.Min, v), max(s.Max, v)
	}
	s.Mean = sum / float64(len(values))
	return s
}

// round3 keeps three decimals, for readable JSON.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func (d Dist) rounded() Dist { return Dist{round3(d.P50), round3(d.P95), round3(d.Max)} }

func (s Spread) rounded() Spread { return Spread{round3(s.Mean), round3(s.Min), round3(s.Max)} }
