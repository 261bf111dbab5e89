package imagefetch

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/imagegen/imagegen"
)

// rebindingDNS is a DNS server on loopback that answers every A query with
// the next address of its script (the last one forever after), as a
// rebinding attacker's name server does: first a harmless address, then
// an internal one.
type rebindingDNS struct {
	conn net.PacketConn
	mu   sync.Mutex
	next []netip.Addr
}

func startRebindingDNS(t *testing.T, script ...netip.Addr) *rebindingDNS {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &rebindingDNS{conn: conn, next: script}
	t.Cleanup(func() { conn.Close() })
	go d.serve()
	return d
}

func (d *rebindingDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.EnableCompression()
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		if q.Type == dnsmessage.TypeA {
			d.mu.Lock()
			addr := d.next[0]
			if len(d.next) > 1 {
				d.next = d.next[1:]
			}
			d.mu.Unlock()
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}, dnsmessage.AResource{A: addr.As4()})
		}
		msg, err := b.Finish()
		if err == nil {
			d.conn.WriteTo(msg, from)
		}
	}
}

// resolver sends every query to d.
func (d *rebindingDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "udp", d.conn.LocalAddr().String())
	}}
}

// A name that resolved to an allowed address and then re-resolves to a
// refused one is refused on the next connection: the check runs on every
// dial, on the address dialed, not once on an earlier lookup.
func TestFetchRefusesANameThatRebindsToARefusedAddress(t *testing.T) {
	srv := imageServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := startRebindingDNS(t, netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"))
	f := New(Options{Policy: loopbackOnly(t, srv)}) // 127.0.0.1 stands for a public address
	f.dialer.Resolver = dns.resolver()
	u := "http://images.rebind.test:" + port + "/image.png"

	if _, kind, err := f.Fetch(context.Background(), u); err != nil || kind != "image/png" {
		t.Fatalf("first fetch (resolves to the allowed address) = %q, %v; want the PNG", kind, err)
	}
	f.client.CloseIdleConnections() // the next fetch dials afresh, as after an idle timeout
	_, _, err := f.Fetch(context.Background(), u)
	if imagegen.KindOf(err) != imagegen.KindInvalidInput || !strings.Contains(err.Error(), "images.rebind.test resolves to a loopback address") {
		t.Fatalf("fetch after the name rebound = %v, want it refused at the dial", err)
	}
}
