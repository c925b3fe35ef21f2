package sshconn

import (
	"crypto/ed25519"
	"encoding/pem"
	"os"

	"golang.org/x/crypto/ssh"
)

// WriteNewKey writes a new ed25519 private key, in OpenSSH's format and
// readable by its owner only, to file, and returns its signer. The lab, the
// tests and the benchmark make their host and user keys with it.
func WriteNewKey(file, comment string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}
