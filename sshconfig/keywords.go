package sshconfig

import (
	"net/netip"
	"strconv"
	"strings"
)

// knownKeywords are the ssh_config keywords OpenSSH 9.2 (Debian) accepts.
// Those Resolve does not use are accepted and ignored; anything else is an
// error unless IgnoreUnknown matches it, as in ssh.
var knownKeywords = map[string]bool{}

// keywordAliases map alternative spellings to the keyword Resolve handles.
var keywordAliases = map[string]string{
	"identityfile2": "identityfile",
}

func init() {
	for _, k := range strings.Fields(`
		host match include ignoreunknown user hostname port identityfile certificatefile
		identitiesonly identityagent proxycommand proxyjump userknownhostsfile
		globalknownhostsfile stricthostkeychecking hostkeyalias hostkeyalgorithms
		serveraliveinterval serveralivecountmax connecttimeout batchmode hashknownhosts
		canonicalizehostname
		forwardagent forwardx11 forwardx11trusted forwardx11timeout xauthlocation gatewayports
		passwordauthentication kbdinteractiveauthentication kbdinteractivedevices
		challengeresponseauthentication skeyauthentication tisauthentication
		pubkeyauthentication dsaauthentication hostbasedauthentication addkeystoagent
		ciphers macs remoteforward localforward permitremoteopen escapechar
		globalknownhostsfile2 userknownhostsfile2 connectionattempts checkhostip compression
		tcpkeepalive keepalive numberofpasswordprompts syslogfacility loglevel logverbose
		dynamicforward preferredauthentications casignaturealgorithms revokedhostkeys
		pubkeyacceptedalgorithms pubkeyacceptedkeytypes bindaddress bindinterface
		clearallforwardings enablesshkeysign verifyhostkeydns nohostauthenticationforlocalhost
		rekeylimit addressfamily sendenv setenv controlpath controlmaster controlpersist
		tunnel tunneldevice localcommand permitlocalcommand remotecommand visualhostkey
		kexalgorithms ipqos requesttty sessiontype stdinnull forkafterauthentication
		proxyusefdpass canonicaldomains canonicalizefallbacklocal canonicalizemaxdots
		canonicalizepermittedcnames streamlocalbindmask streamlocalbindunlink
		securitykeyprovider knownhostscommand requiredrsasize enableescapecommandline
		hostbasedacceptedalgorithms hostbasedkeytypes updatehostkeys fingerprinthash
		gssapiauthentication gssapidelegatecredentials gssapikeyexchange gssapiclientidentity
		gssapiserveridentity gssapirenewalforcesrekey gssapitrustdns gssapikexalgorithms
		pkcs11provider smartcarddevice protocol cipher rsaauthentication
		rhostsrsaauthentication compressionlevel useprivilegedport useroaming usersh
		fallbacktorsh afstokenpassing kerberosauthentication kerberostgtpassing
		exitonforwardfailure channeltimeout identityfile2 sendenv
	`) {
		knownKeywords[k] = true
	}
}

// canonicalAddr reports whether host is a numeric address and returns the
// form getnameinfo(NI_NUMERICHOST) prints for it (IPv4 in inet_aton's
// shorthand forms is normalised, "127.1" -> "127.0.0.1").
func canonicalAddr(host string) (string, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.String(), true
	}
	if v4, ok := inetAton(host); ok {
		return v4, true
	}
	return "", false
}

// inetAton parses the a, a.b, a.b.c and a.b.c.d forms with decimal, octal
// and hex parts accepted by inet_aton(3).
func inetAton(s string) (string, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return "", false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return "", false
		}
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return "", false
		}
		vals[i] = v
	}
	var n uint64
	switch len(vals) {
	case 1:
		n = vals[0]
	case 2:
		if vals[0] > 255 || vals[1] > 0xffffff {
			return "", false
		}
		n = vals[0]<<24 | vals[1]
	case 3:
		if vals[0] > 255 || vals[1] > 255 || vals[2] > 0xffff {
			return "", false
		}
		n = vals[0]<<24 | vals[1]<<16 | vals[2]
	case 4:
		for _, v := range vals {
			if v > 255 {
				return "", false
			}
		}
		n = vals[0]<<24 | vals[1]<<16 | vals[2]<<8 | vals[3]
	}
	if n > 0xffffffff {
		return "", false
	}
	return strconv.Itoa(int(n>>24)) + "." + strconv.Itoa(int(n>>16&255)) + "." + strconv.Itoa(int(n>>8&255)) + "." + strconv.Itoa(int(n&255)), true
}
