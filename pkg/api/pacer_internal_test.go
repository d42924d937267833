package api

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

const (
	listKey   = "GET /api/v2/org_connections"
	createKey = "POST /api/v2/org_connections"
)

func testPacers(clk *clock) *pacers {
	return newPacers(func() *pacer { return newPacer(clk, time.Hour, rate.NewLimiter(rate.Inf, 1), nil) })
}

func named(sent, recv time.Time, remaining, reset int) observation {
	return observation{sent: sent, recv: recv, status: 200,
		rl: RateLimit{Name: "org_connections", Limit: 10, Period: 60, Remaining: remaining, Reset: reset}}
}

// A key that moves to a named bucket adds its sends to those the bucket
// already counted from other keys in the window: the GET that named the
// bucket and the POST sent before its own answer named it are both
// requests the server counts.
func TestInheritAddsToOwnSends(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clk := &clock{now: func() time.Time { return now }, sleep: func(context.Context, time.Duration) error { return nil }, rnd: func() float64 { return 0 }}
	ps := testPacers(clk)
	p, release, err := ps.acquire(context.Background(), listKey)
	if err != nil {
		t.Fatal(err)
	}
	ps.observe(listKey, p, named(now, now, 9, 60))
	release()
	from, release, err := ps.acquire(context.Background(), createKey)
	if err != nil {
		t.Fatal(err)
	}
	if from != ps.def {
		t.Fatal("an unnamed key does not start in the default bucket")
	}
	ps.observe(createKey, from, named(now, now, 8, 60))
	release()
	if b := ps.forKey(createKey); b.used != 2 {
		t.Errorf("the bucket counts %d requests in the window, want 2 (1 GET + 1 POST)", b.used)
	}
}

// The creates in flight when the first answer names a new bucket count in
// it, even when Reset (rounded up) puts the window's estimated start after
// they were sent.
func TestInheritInFlightBurst(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	now := t0
	clk := &clock{now: func() time.Time { return now }, sleep: func(context.Context, time.Duration) error { return nil }, rnd: func() float64 { return 0 }}
	ps := testPacers(clk)
	var from *pacer
	for range 4 { // no bucket is known yet: nothing holds them back
		var err error
		if from, _, err = ps.acquire(context.Background(), createKey); err != nil {
			t.Fatal(err)
		}
	}
	now = t0.Add(5 * time.Millisecond)
	ps.observe(createKey, from, named(t0, now, 9, 60))
	if b := ps.forKey(createKey); b.used != 4 {
		t.Errorf("the bucket counts %d requests in the window, want the 4 sent", b.used)
	}
}

// Once the server is known to rate-limit, a key that no answer has named
// yet sends one request at a time until one does, so the first burst of
// creates after the reads is paced instead of overshooting the window.
func TestUnnamedKeyProbesOneAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := &clock{now: time.Now, sleep: sleepCtx, rnd: func() float64 { return 0 }}
		ps := testPacers(clk)
		ctx := context.Background()
		p, release, err := ps.acquire(ctx, listKey)
		if err != nil {
			t.Fatal(err)
		}
		ps.observe(listKey, p, named(time.Now(), time.Now(), 2, 30)) // 2 left in this window
		release()

		first, releaseFirst, err := ps.acquire(ctx, createKey)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan time.Time, 2)
		for range 2 {
			go func() {
				_, release, err := ps.acquire(ctx, createKey)
				if err != nil {
					t.Error(err)
				}
				release()
				done <- time.Now()
			}()
		}
		synctest.Wait()
		if len(done) != 0 {
			t.Fatal("a second create went out before the first one's answer named its bucket")
		}
		start := time.Now()
		ps.observe(createKey, first, named(start, start, 1, 30))
		releaseFirst()
		a, b := <-done, <-done
		// One create fits in the window; the other waits for the next.
		if a.Sub(start) != 0 || b.Sub(start) < 30*time.Second {
			t.Errorf("creates went at +%v and +%v, want +0s and after the window's end (+30s)", a.Sub(start), b.Sub(start))
		}
	})
}

// A key whose answers name no bucket stops probing: requests of a server
// that does not rate-limit that endpoint are never serialized.
func TestUnnamedKeyStopsProbingWhenAnswersNameNoBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := &clock{now: time.Now, sleep: sleepCtx, rnd: func() float64 { return 0 }}
		ps := testPacers(clk)
		ctx := context.Background()
		p, release, _ := ps.acquire(ctx, listKey)
		ps.observe(listKey, p, named(time.Now(), time.Now(), 9, 30))
		release()
		first, releaseFirst, _ := ps.acquire(ctx, createKey)
		ps.observe(createKey, first, observation{sent: time.Now(), recv: time.Now(), status: 200, rl: RateLimit{Limit: -1, Period: -1, Remaining: -1, Reset: -1}})
		releaseFirst()
		for range 5 { // none of these waits for another's answer
			if _, _, err := ps.acquire(ctx, createKey); err != nil {
				t.Fatal(err)
			}
		}
	})
}
