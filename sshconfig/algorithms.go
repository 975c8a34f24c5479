package sshconfig

import (
	"errors"
	"strings"
)

// defaultHostKeyAlgorithms is OpenSSH 9.2's KEX_DEFAULT_PK_ALG.
var defaultHostKeyAlgorithms = strings.Split("ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"+
	"ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"+
	"sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"+
	"rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,"+
	"ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,"+
	"sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256", ",")

// allHostKeyAlgorithms is `ssh -Q HostKeyAlgorithms` of OpenSSH 9.2, in order.
var allHostKeyAlgorithms = strings.Split("ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,"+
	"sk-ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp256-cert-v01@openssh.com,"+
	"ecdsa-sha2-nistp384,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,"+
	"ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,"+
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,"+
	"ssh-dss,ssh-dss-cert-v01@openssh.com,ssh-rsa,ssh-rsa-cert-v01@openssh.com,rsa-sha2-256,"+
	"rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com", ",")

// validKeyNames is sshkey_names_valid2 with wildcards allowed: every
// element must name a key type or, as a pattern, match one.
func validKeyNames(list string) bool {
	if list == "" {
		return false
	}
	for _, p := range strings.Split(list, ",") {
		ok := false
		for _, a := range allHostKeyAlgorithms {
			if a == p || matchPatternList(a, p, false) != 0 {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// assembleAlgorithms is OpenSSH's kex_assemble_names: "+x" appends to the
// default, "-x" removes (patterns), "^x" prepends, anything else replaces;
// patterns are expanded against all supported names.
func assembleAlgorithms(list string, def, all []string) ([]string, error) {
	if list == "" {
		return append([]string(nil), def...), nil
	}
	var items []string
	switch list[0] {
	case '+':
		items = cat(def, strings.Split(list[1:], ","))
	case '-':
		var out []string
		for _, d := range def {
			if matchPatternList(d, list[1:], false) != 1 {
				out = append(out, d)
			}
		}
		return out, nil
	case '^':
		items = cat(strings.Split(list[1:], ","), def)
	default:
		items = strings.Split(list, ",")
	}
	var out []string
	for _, p := range items {
		if strings.HasPrefix(p, "!") {
			return nil, errors.New("negated algorithm patterns are not supported")
		}
		var m []string
		for _, a := range all {
			if matchPatternList(a, p, false) == 1 {
				m = append(m, a)
			}
		}
		out = cat(out, m)
	}
	if len(out) == 0 {
		return nil, errors.New("empty algorithm list")
	}
	return out, nil
}

// cat joins name lists, dropping duplicates (kex_names_cat).
func cat(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, x := range b {
		dup := false
		for _, y := range out {
			if x == y {
				dup = true
				break
			}
		}
		if !dup && x != "" {
			out = append(out, x)
		}
	}
	return out
}
