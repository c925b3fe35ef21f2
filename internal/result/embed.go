package result

import (
	"bytes"
	"errors"
)

// HTMLScriptOpen opens the element of an HTML report that holds the
// result document, so that the page is the whole record and reads back
// like result.json. Its JSON escapes every < (as \u003c), so the first
// </script> after it ends it.
const HTMLScriptOpen = `<script type="application/json" id="everywhere-result">`

// fromHTML returns the result document embedded in an HTML report; data
// that is not HTML is returned as it is.
func fromHTML(data []byte) ([]byte, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) == 0 || trimmed[0] != '<' {
		return data, nil
	}
	_, doc, found := bytes.Cut(data, []byte(HTMLScriptOpen))
	if !found {
		return nil, errors.New("an HTML page without an embedded result (not written by everywhere --format html)")
	}
	doc, _, found = bytes.Cut(doc, []byte("</script>"))
	if !found {
		return nil, errors.New("the embedded result is cut short")
	}
	return doc, nil
}
