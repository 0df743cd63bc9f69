#!/usr/bin/env python3
"""A raw TCP echo server that breaks each connection's stream once, on purpose,
so that the tests can check that zws-load --raw notices.

usage: raw_fault_server.py PORT MODE AT
  flip   byte AT of the stream comes back with one bit flipped
  drop   byte AT is left out (everything after it arrives one byte early)
  swap   the 16 KiB blocks at AT and AT + 16384 come back in swapped order
  slow   nothing is read for the first 0.2 s, then everything is echoed (the
         client's first burst meets full socket buffers: partial sends)
Everything else is echoed as it came.
"""
import socket
import sys
import threading
import time

BLOCK = 16384


def handle(s, mode, at):
    span = 2 * BLOCK if mode == 'swap' else 1
    pos, buf, done = 0, bytearray(), mode == 'slow'
    try:
        if mode == 'slow':
            time.sleep(0.2)
        while True:
            data = s.recv(1 << 16)
            if not data:
                return
            buf += data
            out = bytearray()
            while buf:
                if done or pos + len(buf) <= at:
                    take = len(buf)
                elif pos < at:
                    take = at - pos
                elif len(buf) >= span:  # pos == at: the broken piece
                    piece = buf[:span]
                    if mode == 'flip':
                        piece[0] ^= 0x10
                    elif mode == 'drop':
                        piece = piece[1:]
                    elif mode == 'swap':
                        piece = piece[BLOCK:] + piece[:BLOCK]
                    out += piece
                    del buf[:span]
                    pos += span
                    done = True
                    continue
                else:
                    break  # wait for the rest of the piece
                out += buf[:take]
                del buf[:take]
                pos += take
            if out:
                s.sendall(out)
    except OSError:
        pass
    finally:
        s.close()


def main():
    port, mode, at = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', port))
    ls.listen(64)
    print('listening', flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c, mode, at), daemon=True).start()


if __name__ == '__main__':
    main()
