// Command bulk is the far end of kfwd's throughput benchmark: a TCP server on a loopback address
// that, for each connection, reads one mode byte and then either sends -bytes bytes and closes
// ('d', a download) or reads until EOF and answers with the count as a decimal line ('u', an
// upload); 'p' answers "ok". It prints its address on stdout once it listens.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	n := flag.Int64("bytes", 1<<30, "bytes to send per download")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bulk:", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr())
	block := make([]byte, 256<<10)
	for i := range block {
		block[i] = byte(i*7 + i>>8) // not all zeros, though nothing compresses here
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go serve(c, block, *n)
	}
}

func serve(c net.Conn, block []byte, n int64) {
	defer c.Close()
	r := bufio.NewReader(c)
	mode, err := r.ReadByte()
	if err != nil {
		return
	}
	switch mode {
	case 'd':
		for n > 0 {
			b := block
			if int64(len(b)) > n {
				b = b[:n]
			}
			w, err := c.Write(b)
			if err != nil {
				return
			}
			n -= int64(w)
		}
	case 'p':
		fmt.Fprintln(c, "ok")
	case 'u':
		got, _ := io.Copy(io.Discard, r)
		fmt.Fprintf(c, "%d\n", got)
	}
}
