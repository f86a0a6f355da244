package asciicast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func Example() {
	var b bytes.Buffer
	w, _ := NewWriter(&b, Header{Width: 80, Height: 24, Title: "demo"})
	w.Output(100*time.Millisecond, []byte("$ "))
	w.Input(1200*time.Millisecond, []byte("l"))
	w.Output(1201*time.Millisecond, []byte("l\r\n"))
	w.Resize(3*time.Second, 100, 30)
	fmt.Print(b.String())
	// Output:
	// {"version":2,"width":80,"height":24,"title":"demo"}
	// [0.100000,"o","$ "]
	// [1.200000,"i","l"]
	// [1.201000,"o","l\r\n"]
	// [3.000000,"r","100x30"]
}

// readAll parses a whole recording.
func readAll(t testing.TB, b []byte) (Header, []Event, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return Header{}, nil, err
	}
	var evs []Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			return r.Header(), evs, nil
		}
		if err != nil {
			return r.Header(), evs, err
		}
		evs = append(evs, e)
	}
}

func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	h := Header{Width: 132, Height: 43, Timestamp: 1767240000, Command: "/bin/bash", Title: "prod",
		Env: map[string]string{"SHELL": "/bin/bash", "TERM": "xterm-256color"}}
	w, err := NewWriter(&b, h)
	if err != nil {
		t.Fatal(err)
	}
	// "é" (c3 a9) and "€" (e2 82 ac) split across reads.
	w.Output(time.Second, []byte("caf\xc3"))
	w.Output(2*time.Second, []byte("\xa9 \xe2\x82"))
	w.Output(3*time.Second, []byte("\xac\x00\x1b[0m\"\\\t\xff"))
	w.Input(3*time.Second, []byte("\x03"))
	w.Output(4*time.Second, []byte("\xe2"))
	w.Flush(5 * time.Second)
	got, evs, err := readAll(t, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	h.Version = 2
	if !reflect.DeepEqual(got, h) {
		t.Errorf("header %+v, want %+v", got, h)
	}
	want := []Event{
		{1, Output, "caf"},
		{2, Output, "é "},
		{3, Output, "€\x00\x1b[0m\"\\\t\ufffd"},
		{3, Input, "\x03"},
		{5, Output, "\ufffd"},
	}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("events\n%+v\nwant\n%+v", evs, want)
	}
}

func TestAppendStringMatchesJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "\x00\x01\x1f\x7f", "\"\\/", "\u2028\u2029", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "日本語", "\xf0\x9f\x98\x80",
		"<a href=\"x\">&amp;</a>", "\b\f\n\r\t\x1b[0m", "0123456789abcdef\r\n0123456789abcdef", "01234567\"01234567\\0123456\x80"} {
		got := AppendString([]byte("prefix"), []byte(s))
		if want := "prefix" + jsonString(s); string(got) != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
		var dec string
		if err := json.Unmarshal(got[len("prefix"):], &dec); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if want := validUTF8(s); dec != want {
			t.Errorf("%q: decoded %q, want %q", s, dec, want)
		}
	}
}

// jsonString is s as encoding/json writes it, HTML escaping off.
func jsonString(s string) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// FuzzAppendString: the hand-written escaper writes exactly what
// encoding/json writes, for any bytes (valid UTF-8 or not), at any
// alignment.
func FuzzAppendString(f *testing.F) {
	f.Add([]byte("caf\xc3\xa9 \xe2\x82\xac\u2028\r\n"), uint8(0))
	f.Add([]byte("\xff\x00\"\\\xf0\x9f\x98 0123456789abcdef\x7f\x1f"), uint8(3))
	f.Add([]byte("\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf"), uint8(7))
	f.Fuzz(func(t *testing.T, p []byte, skip uint8) {
		p = p[min(int(skip%8), len(p)):] // the 8-byte steps at every alignment
		if got, want := string(AppendString(nil, p)), jsonString(string(p)); got != want {
			t.Fatalf("%q: got %s, want %s", p, got, want)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	line := strings.Repeat("0123456789abcdef ", 5)[:79] + "\r\n"
	p := []byte(strings.Repeat(line, 4096/len(line)+1)[:4096])
	var dst []byte
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		dst = AppendString(dst[:0], p)
	}
}

// validUTF8 replaces each byte that is not UTF-8 by U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s { // range yields RuneError for each bad byte
		b.WriteRune(r)
	}
	return b.String()
}

func TestReaderErrors(t *testing.T) {
	const h = `{"version":2,"width":80,"height":24}` + "\n"
	for _, tc := range []struct {
		name, in, err string
	}{
		{"empty", "", "asciicast line 1: empty recording, no header"},
		{"not json", "hello\n", "asciicast line 1: the header is not a JSON object"},
		{"array header", "[2]\n", "asciicast line 1: the header is not a JSON object"},
		{"version 1", `{"version":1,"width":80,"height":24}` + "\n", "asciicast line 1: version 1, want 2"},
		{"no size", `{"version":2}` + "\n", "asciicast line 1: terminal size 0x0"},
		{"bad width", `{"version":2,"width":"80","height":24}` + "\n", "asciicast line 1: header: json: cannot unmarshal string into Go struct field Header.width of type int"},
		{"header cut", `{"version":2,"width":80,"height":24}`, "line 1: the recording ends in the middle of a line (cut short)"},
		{"event cut", h + `[0.1,"o","a"]` + "\n" + `[0.2,"o","b`, "line 3: the recording ends in the middle of a line (cut short)"},
		{"object", h + `{"t":1}` + "\n", "asciicast line 2: not a JSON array"},
		{"null", h + "null\n", "asciicast line 2: not a JSON array"},
		{"blank", h + "\n", "asciicast line 2: not a JSON array"},
		{"two", h + `[0.1,"o"]` + "\n", "asciicast line 2: an event has 3 elements, not 2"},
		{"four", h + `[0.1,"o","a","b"]` + "\n", "asciicast line 2: an event has 3 elements, not 4"},
		{"negative", h + `[-0.1,"o","a"]` + "\n", "asciicast line 2: the time is not a non-negative number"},
		{"string time", h + `["0.1","o","a"]` + "\n", "asciicast line 2: the time is not a non-negative number"},
		{"null time", h + `[null,"o","a"]` + "\n", "asciicast line 2: the time is not a non-negative number"},
		{"huge time", h + `[1e999,"o","a"]` + "\n", "asciicast line 2: the time is not a non-negative number"},
		{"backwards", h + `[2,"o","a"]` + "\n" + `[1,"o","b"]` + "\n", "asciicast line 3: the time goes backwards (1.000000 after 2.000000)"},
		{"type", h + `[1,1,"a"]` + "\n", "asciicast line 2: the event type is not a string"},
		{"empty type", h + `[1,"","a"]` + "\n", "asciicast line 2: the event type is not a string"},
		{"null data", h + `[1,"o",null]` + "\n", "asciicast line 2: the event data is not a string"},
		{"resize", h + `[1,"r","80"]` + "\n", `asciicast line 2: resize "80" is not COLUMNSxROWS`},
		{"resize zero", h + `[1,"r","0x24"]` + "\n", `asciicast line 2: resize "0x24" is not COLUMNSxROWS`},
		{"resize plus", h + `[1,"r","+80x24"]` + "\n", `asciicast line 2: resize "+80x24" is not COLUMNSxROWS`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readAll(t, []byte(tc.in))
			if err == nil || err.Error() != tc.err {
				t.Fatalf("error %v, want %s", err, tc.err)
			}
			if strings.Contains(tc.err, "cut short") != errors.Is(err, ErrTruncated) {
				t.Errorf("errors.Is(ErrTruncated) = %v", errors.Is(err, ErrTruncated))
			}
		})
	}
}

func TestReaderAccepts(t *testing.T) {
	// Another recorder's spelling: spaces, other keys, unknown event
	// types, an exponent, a long line.
	long := strings.Repeat("x", 200<<10)
	in := `{"version": 2, "width": 80, "height": 24, "idle_time_limit": 2.5, "theme": {}}` + "\n" +
		`[ 0.5 , "o" , "a" ]` + "\n" + `[1e0,"x","?"]` + "\n" + `[1.5,"m",""]` + "\n" + `[2,"o","` + long + `"]` + "\n"
	_, evs, err := readAll(t, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{0.5, Output, "a"}, {1, "x", "?"}, {1.5, Marker, ""}, {2, Output, long}}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("events differ: got %d events", len(evs))
	}
}

func TestWriterSizeAndTime(t *testing.T) {
	if _, err := NewWriter(io.Discard, Header{Width: 0, Height: 24}); err == nil {
		t.Error("accepted a zero width")
	}
	var b bytes.Buffer
	w, _ := NewWriter(&b, Header{Width: 1, Height: 1})
	w.Output(2*time.Second, []byte("a"))
	w.Output(time.Second, []byte("b")) // a clock step back is written as no time passing
	if _, evs, err := readAll(t, b.Bytes()); err != nil || evs[1].Time != 2 {
		t.Fatalf("%v %v", evs, err)
	}
}

// FuzzReader: whatever the Reader accepts, the Writer writes back into a
// recording the Reader reads as the same events.
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"version":2,"width":80,"height":24}` + "\n" + `[0.1,"o","a\u001b"]` + "\n" + `[0.2,"r","80x25"]` + "\n"))
	f.Add([]byte(`{"version":2,"width":1,"height":1,"env":{"TERM":"x"}}` + "\n" + `[0,"i","\ud800"]` + "\n"))
	if b, err := os.ReadFile("testdata/session.cast"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, evs, err := readAll(t, b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		w, err := NewWriter(&out, h)
		if err != nil {
			t.Fatalf("the header read does not write: %v", err)
		}
		for _, e := range evs {
			if err := w.event(time.Duration(e.Time*float64(time.Second)), e.Type, []byte(e.Data)); err != nil {
				t.Fatal(err)
			}
		}
		_, evs2, err := readAll(t, out.Bytes())
		if err != nil {
			t.Fatalf("rewritten recording does not read: %v\n%s", err, out.Bytes())
		}
		if len(evs2) != len(evs) {
			t.Fatalf("%d events, then %d", len(evs), len(evs2))
		}
		for i := range evs {
			if evs[i].Type != evs2[i].Type || evs[i].Data != evs2[i].Data {
				t.Fatalf("event %d: %+v, then %+v", i, evs[i], evs2[i])
			}
		}
	})
}

// FuzzWriter: any bytes, cut into reads anywhere, come back as the same
// text (bytes that are not UTF-8 as U+FFFD).
func FuzzWriter(f *testing.F) {
	f.Add([]byte("caf\xc3\xa9 \xe2\x82\xac"), uint8(4))
	f.Add([]byte("\xff\x00\"\\\xf0\x9f\x98"), uint8(1))
	f.Fuzz(func(t *testing.T, p []byte, cut uint8) {
		var b bytes.Buffer
		w, _ := NewWriter(&b, Header{Width: 80, Height: 24})
		step := int(cut)%7 + 1
		for i := 0; i < len(p); i += step {
			if err := w.Output(time.Duration(i)*time.Millisecond, p[i:min(i+step, len(p))]); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush(time.Hour)
		_, evs, err := readAll(t, b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		for _, e := range evs {
			if !utf8.ValidString(e.Data) || e.Data == "" {
				t.Fatalf("event data %q", e.Data)
			}
			got.WriteString(e.Data)
		}
		if want := validUTF8(string(p)); got.String() != want {
			t.Fatalf("got %q, want %q", got.String(), want)
		}
	})
}

func TestPlay(t *testing.T) {
	in := `{"version":2,"width":80,"height":24}` + "\n" + `[0.1,"o","a"]` + "\n" + `[0.2,"i","x"]` + "\n" +
		`[5,"o","b"]` + "\n" + `[5.1,"r","10x10"]` + "\n" + `[9,"o","c`
	r, _ := NewReader(strings.NewReader(in))
	var b bytes.Buffer
	start := time.Now()
	err := Play(&b, r, 2, 50*time.Millisecond)
	if b.String() != "ab" || !errors.Is(err, ErrTruncated) {
		t.Errorf("played %q, %v", b.String(), err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Errorf("played in %v; the 4.9 s pause should take 50 ms", d)
	}
}
