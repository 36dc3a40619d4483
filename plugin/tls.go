package plugin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// Variables that carry a launch's TLS material to the plugin process, in
// PEM. The host makes a fresh P-256 certificate for each side per launch
// (about 0.1 ms, where go-plugin's AutoMTLS makes P-521 ones); the
// plugin's private key travels in its environment, which only the same
// user (or root) can read, as the AutoMTLS client certificate does.
const (
	TLSCertEnv       = "GOFLYTE_PLUGIN_TLS_CERT"
	TLSKeyEnv        = "GOFLYTE_PLUGIN_TLS_KEY"
	TLSClientCertEnv = "GOFLYTE_PLUGIN_TLS_CLIENT_CERT"
)

// tlsLaunch returns the environment for the plugin and the host's TLS
// configuration for one launch: mutual TLS 1.3, each side trusting only
// the other's certificate. Each configuration serves both roles, as in
// go-plugin's AutoMTLS: the host dials the plugin, and a plugin's eager
// tasks dial the host's broker.
func tlsLaunch() (env []string, cfg *tls.Config, err error) {
	serverCert, serverKey, err := newCert("goflyte plugin")
	if err != nil {
		return nil, nil, err
	}
	clientCert, clientKey, err := newCert("goflyte host")
	if err != nil {
		return nil, nil, err
	}
	client, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		return nil, nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCert)
	env = []string{TLSCertEnv + "=" + string(serverCert), TLSKeyEnv + "=" + string(serverKey), TLSClientCertEnv + "=" + string(clientCert)}
	return env, &tls.Config{
		Certificates: []tls.Certificate{client},
		RootCAs:      roots,
		ClientCAs:    roots,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// serverTLS is the plugin side: the TLS configuration from the variables
// tlsLaunch set, or nil when the host asked for none.
func serverTLS() (*tls.Config, error) {
	cert, key, clientCert := os.Getenv(TLSCertEnv), os.Getenv(TLSKeyEnv), os.Getenv(TLSClientCertEnv)
	if cert == "" && key == "" && clientCert == "" {
		return nil, nil
	}
	pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
	if err != nil {
		return nil, fmt.Errorf("plugin TLS: %s/%s: %w", TLSCertEnv, TLSKeyEnv, err)
	}
	clients := x509.NewCertPool()
	if !clients.AppendCertsFromPEM([]byte(clientCert)) {
		return nil, errors.New("plugin TLS: " + TLSClientCertEnv + " holds no certificate")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clients,
		RootCAs:      clients,
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// newCert makes a self-signed P-256 certificate for localhost, valid for a
// day, and returns it and its key in PEM.
func newCert(name string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"goflyte"}},
		DNSNames:              []string{"localhost"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
