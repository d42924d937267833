package main

import (
	"net/http"
	"time"
)

// newHTTPServer serves h with timeouts, so that a stuck client cannot hold
// the emulator's connections forever.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}
