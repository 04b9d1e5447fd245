// Package registrar holds the protocol core of clientreg: the RFC 7591 client
// metadata model and its validation (package metadata), stateless client-id
// minting and verification (package stateless), and, later, the RFC 7591/7592
// client for remote authorization servers and the embedded registration
// endpoint. Nothing under registrar imports Kubernetes packages.
//
// Requirement ids in comments and tests (REG-12, SCI-07, ...) are catalogued in docs/requirements.md.
package registrar
