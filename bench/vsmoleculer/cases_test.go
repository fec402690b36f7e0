package main

import "testing"

// BenchmarkCases runs the side-by-side cases as go benchmarks: "serial" is one caller,
// "parallel" is 100 callers (b.RunParallel with 50 goroutines per CPU on 2 CPUs). Params are
// built once per caller, so allocs/op is the broker's own cost; the side-by-side run builds
// them per call, like its JS twin.
func BenchmarkCases(b *testing.B) {
	for _, c := range cases {
		b.Run(c.name+"/serial", func(b *testing.B) {
			f := mustSetup(b, c)
			p := f.make()
			b.ReportAllocs()
			for b.Loop() {
				if err := f.call(p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			f := mustSetup(b, c)
			b.ReportAllocs()
			b.SetParallelism(50)
			b.RunParallel(func(pb *testing.PB) {
				p := f.make()
				for pb.Next() {
					if err := f.call(p); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func mustSetup(b *testing.B, c benchCase) *fixture {
	f, err := c.setup()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.stop)
	return f
}
