#!/usr/bin/env python3
"""png_equal.py PNG PPM: exit 0 when the 8-bit RGB PNG (as bananactl
snapshot writes it) shows exactly the pixels of the binary PPM (P6); else
print where they first differ and exit 1. Decodes PNG with zlib alone
(filters 0-4, no interlace), so the check needs nothing outside Python;
unfiltered rows, as the Corm writes them, are only sliced (fast)."""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        sys.exit(f'{path}: not a PNG')
    pos, idat, w = 8, b'', None
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, inter = struct.unpack('>IIBBBBB', body)
            if depth != 8 or ctype != 2 or inter != 0:
                sys.exit(f'{path}: not 8-bit RGB without interlace')
        elif kind == b'IDAT':
            idat += body
        elif kind == b'IEND':
            break
    raw, bpp, stride = zlib.decompress(idat), 3, w * 3
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 0:  # unfiltered (what bananactl snapshot writes): as it is
            out += line
            prev = line
            continue
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xff
            elif f == 2:
                line[i] = (line[i] + b) & 0xff
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 0xff
        out += line
        prev = line
    return w, h, bytes(out)


def read_ppm(path):
    data = open(path, 'rb').read()
    parts = data.split(maxsplit=4)
    if parts[0] != b'P6' or parts[3] != b'255':
        sys.exit(f'{path}: not a binary 8-bit PPM')
    return int(parts[1]), int(parts[2]), parts[4]


pw, ph, pp = read_png(sys.argv[1])
qw, qh, qp = read_ppm(sys.argv[2])
if (pw, ph) != (qw, qh):
    sys.exit(f'size differs: snapshot {pw}x{ph}, expected {qw}x{qh}')
if pp != qp:
    i = next(k for k in range(len(pp)) if pp[k] != qp[k]) // 3
    sys.exit(f'pixel ({i % pw},{i // pw}) differs: snapshot {pp[i*3:i*3+3].hex()}, '
             f'expected {qp[i*3:i*3+3].hex()}')
print(f'snapshot matches pixel for pixel ({pw}x{ph})')
