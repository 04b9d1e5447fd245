// Package controllers holds the reconcilers of clientreg: one for the two
// server kinds (keys, JWKS, readiness) and one for OAuthClient (credentials
// issued by a backend, written to a Secret, kept current, and cleaned up).
//
// Each Reconcile is short: fetch, handle deletion, compute the status as a
// value in phases, write the status once if it changed. Backends live behind
// the interface in package backend, one package per spec union member.
package controllers
