package main

import (
	"math"
	"strconv"
	"unicode/utf8"

	"everywhere/internal/host"
)

// evnet writes its two kinds of JSON line by hand: encoding/json would
// add a tenth to its size, embedded six times over in everywhere (see
// netprobe's gen). json_test.go checks both against encoding/json.

// readyLine is what serve prints once it listens:
// {"listening":ADDR,"arch":GOARCH,"emulated":BOOL}.
func readyLine(listening, arch string, emulated bool) []byte {
	b := []byte(`{"listening":`)
	b = appendString(b, listening)
	b = append(b, `,"arch":`...)
	b = appendString(b, arch)
	b = append(b, `,"emulated":`...)
	b = strconv.AppendBool(b, emulated)
	return append(b, "}\n"...)
}

// measureLine is m as encoding/json writes a host.Measure, and a newline.
func measureLine(m host.Measure) []byte {
	b := []byte(`{"test":`)
	b = appendString(b, m.Test)
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, m.OK)
	b = append(b, `,"value":`...)
	b = appendNumber(b, m.Value)
	b = append(b, `,"unit":`...)
	b = appendString(b, m.Unit)
	if m.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendString(b, m.Detail)
	}
	if m.Emulated {
		b = append(b, `,"emulated":true`...)
	}
	return append(b, "}\n"...)
}

// appendNumber writes v as a JSON number; NaN and infinities, which JSON
// has no number for, as null (encoding/json refuses them).
func appendNumber(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendString writes s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD (as encoding/json
// does). strconv.Quote would not do: its \x00 and \a are no JSON.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
