package sshconfig

import (
	"net/netip"
	"strings"

	"github.com/kfwd/kfwd/internal/inet"
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
	if v4, ok := inet.ParseAton(host); ok {
		return v4.String(), true
	}
	return "", false
}
