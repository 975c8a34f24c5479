package oauthdemo

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims are the claims of an access token issued by Server.
type Claims struct {
	Sub  string `json:"sub"`
	Name string `json:"name"`
	Iss  string `json:"iss"`
	Iat  int64  `json:"iat"`
	Exp  int64  `json:"exp"`
}

// errInvalidToken is returned by claims for a token that is malformed, badly signed, from another
// issuer or expired.
var errInvalidToken = errors.New("invalid access token")

type signer struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newSigner() signer {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("oauthdemo: generating signing key: " + err.Error())
	}
	return signer{pub: pub, priv: priv}
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`))

func (k signer) sign(c Claims) string {
	body, _ := json.Marshal(c) // cannot fail for this struct
	signed := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(body)
	sig := ed25519.Sign(k.priv, []byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Claims verifies an access token issued by this server (signature, issuer, expiry) and returns its
// claims.
func (s *Server) claims(token string) (*Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != jwtHeader {
		return nil, fmt.Errorf("%w: malformed", errInvalidToken)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(s.signer.pub, []byte(parts[0]+"."+parts[1]), sig) {
		return nil, fmt.Errorf("%w: bad signature", errInvalidToken)
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: malformed claims", errInvalidToken)
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: malformed claims", errInvalidToken)
	}
	if iss := s.issuer(); c.Iss != iss {
		return nil, fmt.Errorf("%w: issued by %q, not %q", errInvalidToken, c.Iss, iss)
	}
	if !s.now().Before(time.Unix(c.Exp, 0)) {
		return nil, fmt.Errorf("%w: expired", errInvalidToken)
	}
	return &c, nil
}
