package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"

	"go.temporal.io/sdk/client"

	"github.com/imagegen/imagegen/devserver"
)

// DevTemporalDir is where StartDev keeps the embedded server's files (and its
// frontend secret) inside the data dir.
const DevTemporalDir = "temporal"

// temporalConnection sets the credentials and TLS of a client of addr, from
// the operator's settings:
//
//   - TEMPORAL_API_KEY is sent as "Authorization: Bearer <key>" (Temporal
//     Cloud API keys, or a cluster's own claim mapper).
//   - TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY are an mTLS client certificate;
//     TEMPORAL_TLS_CA the CA that signed the server's; TEMPORAL_TLS_SERVER_NAME
//     the name to check in it.
//   - TEMPORAL_TLS forces TLS on ("true") or off ("false"). Unset, TLS is on
//     whenever a certificate or CA is given, or an API key goes to a host
//     that is not loopback (a key must not cross a network in cleartext).
//
// With none of these set and a loopback address, the secret of an `imagegen
// dev` kept in cfg.SecretDir is used when it exists, so `imagegen
// jobs`, `imagegen stdio` and a separate `serve` reach it unchanged.
func temporalConnection(cfg TemporalOptions, addr string) (client.Options, error) {
	var o client.Options
	host, _, _ := net.SplitHostPort(addr)
	loopback := isLoopback(host)
	key := cfg.APIKey
	if key == "" && cfg.TLSCert == "" && cfg.TLSCA == "" && loopback && cfg.SecretDir != "" {
		secret, err := devserver.ReadSecret(cfg.SecretDir)
		switch {
		case err == nil:
			key = secret
		case !errors.Is(err, fs.ErrNotExist):
			return o, fmt.Errorf("temporal credentials: %w", err)
		}
	}
	if key != "" {
		o.Credentials = client.NewAPIKeyStaticCredentials(key)
	}

	useTLS := cfg.TLSCert != "" || cfg.TLSCA != "" || (key != "" && !loopback)
	if cfg.TLS != "" {
		v, err := strconv.ParseBool(cfg.TLS)
		if err != nil {
			return o, fmt.Errorf("TEMPORAL_TLS=%q is not true or false", cfg.TLS)
		}
		useTLS = v
	}
	if !useTLS {
		if cfg.TLSCert != "" || cfg.TLSCA != "" {
			return o, errors.New("TEMPORAL_TLS=false contradicts TEMPORAL_TLS_CERT/TEMPORAL_TLS_CA: unset one")
		}
		// The SDK turns TLS on for any API key unless told otherwise.
		o.ConnectionOptions.TLSDisabled = true
		return o, nil
	}
	tc := &tls.Config{ServerName: cfg.TLSServerName, MinVersion: tls.VersionTLS12}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return o, errors.New("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both for an mTLS client certificate")
	}
	if cfg.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return o, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if cfg.TLSCA != "" {
		pem, err := os.ReadFile(cfg.TLSCA)
		if err != nil {
			return o, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("TEMPORAL_TLS_CA %s holds no PEM certificate", cfg.TLSCA)
		}
		tc.RootCAs = pool
	}
	o.ConnectionOptions.TLS = tc
	return o, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
