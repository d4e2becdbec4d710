# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""RESP2 hot paths, compiled twin of :mod:`papyra._speedups.resp_py` (which is its spec).

Same names, signatures and results; only the cost differs. The parser walks the buffer with a
C pointer (lines found with ``memchr``, lengths and integers read digit by digit) and builds
nothing but the reply values; the encoder sizes the command first and writes it in one
``bytes`` object.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcpy

import orjson

from papyra._redis.errors import ProtocolError, ReplyError

cdef object _dumps = orjson.dumps
cdef object _loads = orjson.loads
cdef object _JSONDecodeError = orjson.JSONDecodeError

__all__ = ("ReplyParser", "decode_frames", "encode_command", "encode_commands", "encode_frames")


cdef bytes _arg_bytes(object arg):
    if type(arg) is bytes:
        return <bytes>arg
    if type(arg) is str:
        return (<str>arg).encode("utf-8")
    if isinstance(arg, bytes):
        return bytes(arg)
    if isinstance(arg, str):
        return str.encode(arg, "utf-8")
    if isinstance(arg, bool):
        raise TypeError("a Redis command argument cannot be a bool; pass 0/1 or a string")
    if isinstance(arg, (int, float)):
        return repr(arg).encode("ascii")
    raise TypeError(
        f"a Redis command argument must be bytes, str, int or float, not {type(arg).__name__}"
    )


cdef inline Py_ssize_t _digits(Py_ssize_t n) noexcept:
    cdef Py_ssize_t d = 1
    while n >= 10:
        n //= 10
        d += 1
    return d


cdef inline char* _write_header(char* out, char mark, Py_ssize_t n) noexcept:
    """``<mark><n>\\r\\n`` at ``out`` (``n`` >= 0); returns the end."""
    cdef Py_ssize_t d = _digits(n)
    cdef Py_ssize_t i
    out[0] = mark
    for i in range(d, 0, -1):
        out[i] = <char>(48 + n % 10)
        n //= 10
    out[d + 1] = 13
    out[d + 2] = 10
    return out + d + 3


cdef bytes _encode(list datas):
    cdef Py_ssize_t count = PyList_GET_SIZE(datas)
    cdef Py_ssize_t total = 3 + _digits(count)
    cdef Py_ssize_t size
    cdef bytes data
    for data in datas:
        size = PyBytes_GET_SIZE(data)
        total += 5 + _digits(size) + size
    cdef bytes result = PyBytes_FromStringAndSize(NULL, total)
    cdef char* out = PyBytes_AS_STRING(result)
    out = _write_header(out, 42, count)
    for data in datas:
        out = _write_bulk(out, data)
    return result


cdef inline char* _write_bulk(char* out, bytes data) noexcept:
    """``data`` as a bulk string at ``out``; returns the end."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    out = _write_header(out, 36, size)
    memcpy(out, PyBytes_AS_STRING(data), size)
    out[size] = 13
    out[size + 1] = 10
    return out + size + 2


def encode_command(args):
    """One command as RESP2 bytes (an array of bulk strings)."""
    return _encode([_arg_bytes(arg) for arg in args])


def encode_commands(commands):
    """Several commands back to back: a pipeline written with one send."""
    return b"".join([_encode([_arg_bytes(arg) for arg in command]) for command in commands])


def encode_frames(frames):
    """The fields of a cluster stream entry: per frame, its header as JSON, then its payload."""
    cdef list chunks = []
    cdef dict header
    cdef bytes text
    cdef bytes chunk
    cdef Py_ssize_t size
    cdef char* out
    for frame in frames:
        if type(frame) is not dict:
            raise TypeError(f"a frame must be a dict, not {type(frame).__name__}")
        header = (<dict>frame).copy()
        payload = header.pop("m", b"")
        if type(payload) is not bytes:
            raise TypeError(f"a frame's payload m must be bytes, not {type(payload).__name__}")
        # Each frame is written at once, so that orjson's buffer is freed before the next
        # (holding many of them alive makes the C allocator trim and grow its heap).
        text = _dumps(header)
        size = PyBytes_GET_SIZE(text)
        chunk = PyBytes_FromStringAndSize(
            NULL, 10 + _digits(size) + size + _digits(PyBytes_GET_SIZE(payload))
            + PyBytes_GET_SIZE(payload)
        )
        out = PyBytes_AS_STRING(chunk)
        out = _write_bulk(out, text)
        _write_bulk(out, <bytes>payload)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_frames(list flat):
    """The frames of a cluster stream entry from its flat field/value list."""
    cdef Py_ssize_t count = PyList_GET_SIZE(flat)
    cdef Py_ssize_t index
    cdef list frames = []
    cdef dict header = None
    cdef dict frame
    cdef object field = None
    if count == 2 and flat[0] == b"f":
        head, _, payload = flat[1].partition(b"\n")
        flat = [head, payload]
    for index in range(0, count - 1, 2):
        if flat[index] != field:  # frames sent together mostly share their header
            field = flat[index]
            try:
                parsed = _loads(field)
            except _JSONDecodeError:
                parsed = None
            header = <dict>parsed if type(parsed) is dict else None
        if header is not None:
            frame = header.copy()
            frame["m"] = flat[index + 1]
            frames.append(frame)
        else:
            frames.append({})
    return frames or [{}]


cdef class _Open:
    """An array being filled: its items so far, how many are still missing."""
    cdef list items
    cdef Py_ssize_t missing


cdef int _number(const char* p, const char* stop, Py_ssize_t* out) except -1:
    """The decimal integer in ``[p, stop)`` (an optional ``-``, then digits) into ``out``."""
    cdef bint negative = False
    cdef Py_ssize_t n = 0
    cdef const char* start = p
    if p < stop and p[0] == 45:
        negative = True
        p += 1
    if p == stop or stop - p > 18:
        raise ProtocolError(f"not a RESP integer: {bytes(start[:stop - start])!r}")
    while p < stop:
        if p[0] < 48 or p[0] > 57:
            raise ProtocolError(f"not a RESP integer: {bytes(start[:stop - start])!r}")
        n = n * 10 + (p[0] - 48)
        p += 1
    out[0] = -n if negative else n
    return 0


cdef class ReplyParser:
    """Feed it bytes with :meth:`feed`; :meth:`replies` returns the complete replies so far.

    Bulk strings come back as ``bytes``, simple strings as ``str``, integers as ``int``, errors
    as :class:`~papyra._redis.errors.ReplyError`, nil as ``None`` and arrays as ``list``.
    Bytes that are not RESP2 raise :class:`~papyra._redis.errors.ProtocolError`.
    """

    cdef bytearray _buf
    cdef Py_ssize_t _pos
    cdef list _stack

    def __init__(self):
        self._buf = bytearray()
        self._pos = 0
        self._stack = []

    def feed(self, data):
        self._buf += data

    def replies(self):
        cdef bytearray buf = self._buf
        cdef Py_ssize_t pos = self._pos
        cdef list stack = self._stack
        cdef Py_ssize_t end = PyByteArray_GET_SIZE(buf)
        cdef const char* base = PyByteArray_AS_STRING(buf)
        cdef const char* line
        cdef const char* nlp
        cdef Py_ssize_t nl, size, stop
        cdef char kind
        cdef list out = []
        cdef object value
        cdef _Open top
        cdef Py_ssize_t number
        while pos < end:
            line = base + pos
            # a line ends at "\r\n": find the "\n" and check the byte before it
            nlp = <const char*>memchr(line, 10, end - pos)
            if nlp == NULL:
                break
            if nlp == line or (nlp - 1)[0] != 13:
                # a lone "\n" is not a line end: the reference looks for "\r\n"
                nl = _find_crlf(base, pos, end)
                if nl < 0:
                    break
            else:
                nl = nlp - 1 - base
            kind = line[0]
            if kind == 36:  # '$' bulk string
                _number(line + 1, base + nl, &size)
                if size < 0:
                    value = None
                    pos = nl + 2
                else:
                    stop = nl + 2 + size
                    if stop + 2 > end:
                        break
                    value = PyBytes_FromStringAndSize(base + nl + 2, size)
                    pos = stop + 2
            elif kind == 42:  # '*' array
                _number(line + 1, base + nl, &size)
                pos = nl + 2
                if size > 0:
                    top = _Open.__new__(_Open)
                    top.items = []
                    top.missing = size
                    stack.append(top)
                    continue
                value = None if size < 0 else []
            elif kind == 58:  # ':' integer
                if nl - pos - 1 > 18:  # beyond what 18 digits hold: Python's int()
                    try:
                        value = int(PyBytes_FromStringAndSize(line + 1, nl - pos - 1))
                    except ValueError as exc:
                        raise ProtocolError(f"not a RESP integer: {exc}") from None
                else:
                    _number(line + 1, base + nl, &number)
                    value = number
                pos = nl + 2
            elif kind == 43:  # '+' simple string
                value = PyUnicode_DecodeUTF8(line + 1, nl - pos - 1, "replace")
                pos = nl + 2
            elif kind == 45:  # '-' error
                value = ReplyError(PyUnicode_DecodeUTF8(line + 1, nl - pos - 1, "replace"))
                pos = nl + 2
            else:
                raise ProtocolError(f"unexpected RESP type byte {bytes([<unsigned char>kind])!r}")
            while stack:
                top = <_Open>stack[PyList_GET_SIZE(stack) - 1]
                top.items.append(value)
                top.missing -= 1
                if top.missing:
                    break
                value = top.items
                stack.pop()
            else:
                out.append(value)
        if pos == end:
            buf.clear()
            pos = 0
        elif pos > 65536:
            del buf[:pos]
            pos = 0
        self._pos = pos
        return out


cdef Py_ssize_t _find_crlf(const char* base, Py_ssize_t pos, Py_ssize_t end) noexcept:
    """The index of the first ``\\r\\n`` at or after ``pos``, -1 when there is none."""
    cdef Py_ssize_t i
    for i in range(pos, end - 1):
        if base[i] == 13 and base[i + 1] == 10:
            return i
    return -1
