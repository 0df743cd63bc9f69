# A minimal WebSocket echo server (Python standard library only) that breaks
# its echoes on purpose, to check that zws-load notices. The request path picks
# the fault and the message it hits: /MODE/AT (AT: the echo index, default 50).
#   ok         echoes faithfully          frag   splits every third echo in two
#   ping       a ping before every fifth  nonmin  16-bit length for short payloads
#   flip       one payload bit flipped    stamp   a bit of the sequence stamp flipped
#   swap       two echoes swapped         dup     one echo sent twice
#   op         text for binary (or back)  short   one payload byte missing
#   rsv        RSV1 set                   shift   payload rotated by one byte
#   block      two 16 KiB blocks swapped  blockdup  the first 16 KiB block twice
#   slow       reads nothing for 0.2 s after the handshake, then echoes faithfully
# usage: fault_server.py PORT   (prints "listening" once it accepts)
import base64, hashlib, socket, struct, sys, threading, time

GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def recv_exact(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def frame(op, payload, fin=True, rsv=0, nonmin=False):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    if nonmin and n < 126:
        h = bytes([b0, 126]) + struct.pack('>H', n)
    elif n < 126:
        h = bytes([b0, n])
    elif n <= 0xFFFF:
        h = bytes([b0, 126]) + struct.pack('>H', n)
    else:
        h = bytes([b0, 127]) + struct.pack('>Q', n)
    return h + payload


def broken(mode, op, p):
    """The faulty form of echo `p`, or None when `mode` is not a one-off fault."""
    B = 16384
    if mode == 'flip':
        q = bytearray(p); q[len(q) // 2] ^= 1; return frame(op, bytes(q))
    if mode == 'stamp':
        q = bytearray(p); q[3] ^= 1; return frame(op, bytes(q))
    if mode == 'dup':
        return frame(op, p) * 2
    if mode == 'block':
        return frame(op, p[B:2 * B] + p[:B] + p[2 * B:])
    if mode == 'blockdup':
        return frame(op, p[:B] + p[:B] + p[2 * B:])
    if mode == 'shift':
        return frame(op, p[1:] + p[:1])
    if mode == 'op':
        return frame(1 if op == 2 else 2, p)
    if mode == 'short':
        return frame(op, p[:-1])
    if mode == 'rsv':
        return frame(op, p, rsv=4)
    return None


def handle(s):
    try:
        req = b''
        while b'\r\n\r\n' not in req:
            c = s.recv(4096)
            if not c:
                return
            req += c
        lines = req.split(b'\r\n')
        parts = lines[0].split(b' ')[1].decode().strip('/').split('/')
        mode = parts[0] or 'ok'
        at = int(parts[1]) if len(parts) > 1 else 50
        key = [l.split(b':', 1)[1].strip() for l in lines if l.lower().startswith(b'sec-websocket-key')][0]
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        s.sendall(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                  b'Sec-WebSocket-Accept: ' + accept + b'\r\n\r\n')
        k, held = 0, None
        if mode == 'slow':
            time.sleep(0.2)  # the client's first burst meets full socket buffers
        while True:
            b0, b1 = recv_exact(s, 2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack('>H', recv_exact(s, 2))[0]
            elif n == 127:
                n = struct.unpack('>Q', recv_exact(s, 8))[0]
            mk = recv_exact(s, 4)
            # Unmasked as one big integer: quick enough for megabytes.
            keys = (mk * (n // 4 + 1))[:n]
            p = (int.from_bytes(recv_exact(s, n), 'little') ^ int.from_bytes(keys, 'little')).to_bytes(n, 'little')
            op = b0 & 0x0F
            if op == 8:
                s.sendall(frame(8, p))
                return
            if op == 10:
                continue
            out = frame(op, p)
            if k == at:
                if mode == 'swap':
                    held, out = out, b''
                else:
                    out = broken(mode, op, p) or out
            if mode == 'swap' and k == at + 1:
                out += held
            if mode == 'frag' and k % 3 == 1 and len(p) > 2:
                h = len(p) // 2
                out = frame(op, p[:h], fin=False) + frame(9, b'hi') + frame(0, p[h:])
            if mode == 'ping' and k % 5 == 0:
                out = frame(9, b'ping') + out
            if mode == 'nonmin':
                out = frame(op, p, nonmin=True)
            s.sendall(out)
            k += 1
    except (EOFError, ConnectionError, OSError, IndexError, ValueError):
        pass
    finally:
        s.close()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('127.0.0.1', int(sys.argv[1])))
ls.listen(64)
print('listening', flush=True)
while True:
    c, _ = ls.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=handle, args=(c,), daemon=True).start()
