package callback

// stripMarkersRef removes opener markers from a whole input the obvious
// way; the streaming Scanner must agree with it for any split.
func stripMarkersRef(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		if n := markerLenAt(b[i:]); n > 0 {
			i += n
			continue
		}
		out = append(out, b[i])
		i++
	}
	return out
}

func markerLenAt(b []byte) int {
	p := markerPrefix
	if len(b) < len(p) || string(b[:len(p)]) != p {
		return 0
	}
	j := len(p)
	for j < len(b) && isPayloadByte(b[j]) {
		j++
	}
	if j-len(p) > maxMarker {
		return 0
	}
	switch {
	case j < len(b) && b[j] == 0x07:
		return j + 1
	case j+1 < len(b) && b[j] == 0x1b && b[j+1] == '\\':
		return j + 2
	}
	return 0
}
