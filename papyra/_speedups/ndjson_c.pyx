# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""NDJSON hot paths, compiled twin of :mod:`papyra._speedups.ndjson_py` (which is its spec).

Same names, signatures and results; only the cost differs. The scanner never builds a Python
object per line: lines are found with ``memchr`` and each one is checked by a validating byte
scanner written against orjson's behaviour (``orjson.loads`` is what the reference calls):

* RFC 8259 grammar; whitespace is exactly space, ``\\t``, ``\\r``, ``\\n``; one value per line,
  nothing after it; an empty or blank line is invalid; no BOM, no ``NaN``/``Infinity``.
* strings: no raw byte below 0x20; escapes ``\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX``; a high
  surrogate escape must be followed at once by a low surrogate escape, a lone low surrogate is
  invalid (orjson rejects both; the stdlib ``json`` does not -- the twin follows orjson);
  raw bytes >= 0x80 must be well-formed UTF-8 (no overlong forms, no encoded surrogates,
  nothing above U+10FFFF).
* numbers: ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?``; a number whose correctly rounded
  double is infinite is invalid (orjson: "number is infinity when parsed as double"). Only
  numbers that might reach 1e308 are converted to tell (``PyOS_string_to_double``).
* nesting: at most 1024 open containers (orjson accepts 1024 and rejects 1025).

With ``want``, the top-level ``"kind"`` / ``"timestamp"`` members of an object line are read
in the same pass (keys compared after unescaping; the last duplicate wins, as in a dict).
A timestamp is the double ``float(orjson.loads(text))`` gives: the correctly rounded value of
its decimal text, except that the integer ``-0`` is ``0.0``. The exact fast path (Clinger:
at most 15 significant digits and a power of ten up to 1e22) covers real timestamps; anything
else goes through ``PyOS_string_to_double``.

Scans run without the GIL (they are called from worker threads); the rare exact number
conversions take it back for a moment.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_FromStringAndSize
from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from cpython.dict cimport PyDict_Next
from cpython.ref cimport PyObject
from cpython cimport array
from libc.math cimport NAN, isfinite, isinf
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy

import array as _pyarray

from papyra import _serial

try:
    from orjson import JSONEncodeError as _OrjsonEncodeError
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _orjson_dumps = None
    _OrjsonEncodeError = None

cdef extern from "Python.h":
    double PyOS_string_to_double(const char *s, char **endptr, PyObject *overflow_exception)

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* Index (0-7) of the first byte of the 8 at p that is special inside a JSON string
       (< 0x20, '"', '\\' or >= 0x80), or 8 if none is.

       SWAR: in (v - 0x20..), (v ^ '"'..) - 0x01.. and (v ^ '\\'..) - 0x01.. no borrow leaves
       a plain byte (0x20-0x7F, not a quote or backslash), so every byte below the first special
       one is computed exactly and has its top bit clear, and the first special byte has its top
       bit set in one of the terms (or in v itself). Bytes above it may be flagged wrongly, which
       is why only the lowest flag is used. */
    static inline int papyra_nd_first_special(const unsigned char *p) {
        uint64_t v, m;
        memcpy(&v, p, 8);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
    #endif
        m = ((v - 0x2020202020202020ULL)
             | ((v ^ 0x2222222222222222ULL) - 0x0101010101010101ULL)
             | ((v ^ 0x5C5C5C5C5C5C5C5CULL) - 0x0101010101010101ULL)
             | v) & 0x8080808080808080ULL;
        if (!m) return 8;
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_ctzll(m) >> 3;
    #else
        {
            int i = 0;
            while (!(m & 0x80)) { m >>= 8; i++; }
            return i;
        }
    #endif
    }

    /* The same test on 16 bytes: index (0-15) of the first special byte, or 16. Exact for
       every byte (compares, not arithmetic), so only the lowest set bit matters for speed. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #define PAPYRA_ND_SPECIAL16 1
    static inline int papyra_nd_first_special16(const unsigned char *p) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i special = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x22)),
                         _mm_cmpeq_epi8(v, _mm_set1_epi8(0x5C))),
            /* v <= 0x1F (unsigned): max(v, 0x1F) == 0x1F */
            _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F)));
        /* the sign bit of v itself flags bytes >= 0x80 */
        int m = _mm_movemask_epi8(special) | _mm_movemask_epi8(v);
        return m ? __builtin_ctz((unsigned)m) : 16;
    }
    #else
    #define PAPYRA_ND_SPECIAL16 0
    static inline int papyra_nd_first_special16(const unsigned char *p) {
        int k = papyra_nd_first_special(p);
        return k < 8 ? k : 8 + papyra_nd_first_special(p + 8);
    }
    #endif

    /* Number of ASCII digits (0-8) at the start of the 8 bytes at p. A byte is a digit when
       its high nibble is 3 and adding 6 keeps it so; the only carries come from bytes >= 0xFA,
       which are not digits, so the lowest flagged byte is exact (as above). */
    static inline int papyra_nd_digit_run(const unsigned char *p) {
        uint64_t v, m;
        memcpy(&v, p, 8);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
    #endif
        m = ((v & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL)
            | (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL);
        if (!m) return 8;
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_ctzll(m) >> 3;
    #else
        {
            int i = 0;
            while (!(m & 0xFF)) { m >>= 8; i++; }
            return i;
        }
    #endif
    }
    """
    int papyra_nd_first_special(const unsigned char* p) noexcept nogil
    int papyra_nd_first_special16(const unsigned char* p) noexcept nogil
    int papyra_nd_digit_run(const unsigned char* p) noexcept nogil

ctypedef unsigned char uchar

__all__ = (
    "F_JSON",
    "F_NOEOL",
    "F_OBJECT",
    "F_STAMP",
    "KIND_AUDIT",
    "KIND_DEAD_LETTER",
    "KIND_EVENT",
    "KIND_MASK",
    "KIND_SHIFT",
    "WANT_KIND",
    "WANT_STAMP",
    "LineTable",
    "count_lines",
    "encode_fields",
    "encode_record",
    "encode_records",
    "invalid_lines",
    "is_plain",
    "line_ends",
    "scan_lines",
    "select_lines",
    "spans",
)

cdef enum:
    C_F_JSON = 1
    C_F_OBJECT = 2
    C_F_STAMP = 4
    C_F_NOEOL = 8
    C_KIND_SHIFT = 4
    C_WANT_KIND = 1
    C_WANT_STAMP = 2
    # orjson accepts 1024 nested containers and rejects the 1025th.
    MAX_DEPTH = 1024
    # Watched top-level members (what the next value at depth 1 is).
    M_NONE = 0
    M_KIND = 1
    M_STAMP = 2
    # _check_line result when an exact conversion ran out of memory.
    R_NOMEM = -1

F_JSON = C_F_JSON
F_OBJECT = C_F_OBJECT
F_STAMP = C_F_STAMP
F_NOEOL = C_F_NOEOL
KIND_SHIFT = C_KIND_SHIFT
KIND_MASK = 0x30
KIND_EVENT = 1 << C_KIND_SHIFT
KIND_AUDIT = 2 << C_KIND_SHIFT
KIND_DEAD_LETTER = 3 << C_KIND_SHIFT
WANT_KIND = C_WANT_KIND
WANT_STAMP = C_WANT_STAMP

# ----------------------------------------------------------------------------------------------
# Byte classes
# ----------------------------------------------------------------------------------------------

# 1 for a byte that may stand for itself inside a string and needs no further look:
# 0x20..0x7F except '"' and '\\'. Control bytes, quote, backslash and UTF-8 lead/continuation
# bytes stop the fast loop.
cdef uchar STR_PLAIN[256]
# JSON's whitespace inside a line: space, tab and CR. The fourth, LF, ends the line: the
# validator never steps over it, so it finds the end of the line it validates.
cdef uchar IS_WS[256]
# Value of a hex digit, or 0xFF.
cdef uchar HEXVAL[256]


cdef void _init_tables() noexcept:
    cdef int c
    for c in range(256):
        STR_PLAIN[c] = 1 if (0x20 <= c < 0x80 and c != 0x22 and c != 0x5C) else 0
        IS_WS[c] = 1 if c in (0x20, 0x09, 0x0D) else 0
        if 0x30 <= c <= 0x39:
            HEXVAL[c] = c - 0x30
        elif 0x41 <= c <= 0x46:
            HEXVAL[c] = c - 0x41 + 10
        elif 0x61 <= c <= 0x66:
            HEXVAL[c] = c - 0x61 + 10
        else:
            HEXVAL[c] = 0xFF


_init_tables()

# Exact powers of ten as doubles (10**22 is the largest one a double holds exactly).
cdef double POW10[23]
POW10[:] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
            1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]


cdef inline const uchar* _skip_ws(const uchar* p, const uchar* e) noexcept nogil:
    while p < e and p[0] <= 0x20 and IS_WS[p[0]]:
        p += 1
    return p


cdef inline bint _is_digit(uchar c) noexcept nogil:
    return <uchar>(c - 0x30) < 10


cdef inline const uchar* _skip_digits(const uchar* p, const uchar* e) noexcept nogil:
    cdef int k
    while e - p >= 8:
        k = papyra_nd_digit_run(p)
        p += k
        if k < 8:
            return p
    while p < e and _is_digit(p[0]):
        p += 1
    return p


# ----------------------------------------------------------------------------------------------
# Strings
# ----------------------------------------------------------------------------------------------


cdef inline int _hex4(const uchar* p) noexcept nogil:
    """Value of 4 hex digits at ``p`` (caller checked they exist), or -1."""
    cdef int a = HEXVAL[p[0]], b = HEXVAL[p[1]], c = HEXVAL[p[2]], d = HEXVAL[p[3]]
    if (a | b | c | d) & 0xF0:
        return -1
    return (a << 12) | (b << 8) | (c << 4) | d


cdef const uchar* _scan_string(const uchar* p, const uchar* e, bint* escaped) noexcept nogil:
    """``p`` is just past the opening quote: return just past the closing one, or NULL.

    ``escaped`` is set when the string holds a backslash (its text then differs from its bytes).
    """
    cdef uchar c, c1
    cdef int cp, lo, k
    while True:
        # 16 (then 8) bytes at a time up to the first special byte (< 0x20, >= 0x80, '"',
        # '\\'); most strings of a record end within the first 16.
        while e - p >= 16:
            k = papyra_nd_first_special16(p)
            p += k
            if k < 16:
                break
        else:
            while e - p >= 8:
                k = papyra_nd_first_special(p)
                p += k
                if k < 8:
                    break
            else:
                while p < e and STR_PLAIN[p[0]]:
                    p += 1
        if p >= e:
            return NULL
        c = p[0]
        if c == 0x22:  # '"'
            return p + 1
        if c == 0x5C:  # '\\'
            escaped[0] = True
            if e - p < 2:
                return NULL
            c1 = p[1]
            if c1 == 0x75:  # 'u'
                if e - p < 6:
                    return NULL
                cp = _hex4(p + 2)
                if cp < 0:
                    return NULL
                p += 6
                if 0xD800 <= cp <= 0xDBFF:
                    # orjson: a high surrogate must be followed by \\u + a low surrogate.
                    if e - p < 6 or p[0] != 0x5C or p[1] != 0x75:
                        return NULL
                    lo = _hex4(p + 2)
                    if lo < 0xDC00 or lo > 0xDFFF:
                        return NULL
                    p += 6
                elif 0xDC00 <= cp <= 0xDFFF:
                    return NULL
            elif (c1 == 0x22 or c1 == 0x5C or c1 == 0x2F or c1 == 0x62 or c1 == 0x66
                    or c1 == 0x6E or c1 == 0x72 or c1 == 0x74):
                p += 2
            else:
                return NULL
        elif c < 0x20:
            return NULL
        else:
            # A UTF-8 sequence (Unicode table 3-7: no overlongs, no surrogates, <= U+10FFFF).
            if c < 0xC2:
                return NULL
            if c < 0xE0:
                if e - p < 2 or (p[1] & 0xC0) != 0x80:
                    return NULL
                p += 2
            elif c < 0xF0:
                if e - p < 3 or (p[2] & 0xC0) != 0x80:
                    return NULL
                c1 = p[1]
                if c == 0xE0:
                    if c1 < 0xA0 or c1 > 0xBF:
                        return NULL
                elif c == 0xED:
                    if c1 < 0x80 or c1 > 0x9F:
                        return NULL
                elif (c1 & 0xC0) != 0x80:
                    return NULL
                p += 3
            elif c < 0xF5:
                if e - p < 4 or (p[2] & 0xC0) != 0x80 or (p[3] & 0xC0) != 0x80:
                    return NULL
                c1 = p[1]
                if c == 0xF0:
                    if c1 < 0x90 or c1 > 0xBF:
                        return NULL
                elif c == 0xF4:
                    if c1 < 0x80 or c1 > 0x8F:
                        return NULL
                elif (c1 & 0xC0) != 0x80:
                    return NULL
                p += 4
            else:
                return NULL


cdef inline const uchar* _scan_string_fast(
    const uchar* p, const uchar* e, bint* escaped
) noexcept nogil:
    """:func:`_scan_string`, with its common case inlined at the call: a string of plain
    ASCII whose closing quote is among the 16 bytes at ``p``."""
    cdef int k
    if e - p >= 16:
        k = papyra_nd_first_special16(p)
        if k < 16 and p[k] == 0x22:
            return p + k + 1
    return _scan_string(p, e, escaped)


cdef Py_ssize_t _unescape(const uchar* p, const uchar* e, uchar* out, Py_ssize_t cap) noexcept nogil:
    """UTF-8 text of a valid string body ``[p, e)``; its length, or -1 if longer than ``cap``."""
    cdef Py_ssize_t n = 0
    cdef uchar c
    cdef int cp
    while p < e:
        c = p[0]
        if c != 0x5C:
            if n >= cap:
                return -1
            out[n] = c
            n += 1
            p += 1
            continue
        c = p[1]
        if c != 0x75:
            if n >= cap:
                return -1
            if c == 0x62:
                out[n] = 0x08
            elif c == 0x66:
                out[n] = 0x0C
            elif c == 0x6E:
                out[n] = 0x0A
            elif c == 0x72:
                out[n] = 0x0D
            elif c == 0x74:
                out[n] = 0x09
            else:
                out[n] = c
            n += 1
            p += 2
            continue
        cp = _hex4(p + 2)
        p += 6
        if 0xD800 <= cp <= 0xDBFF:
            # Validated: a low surrogate escape follows.
            cp = 0x10000 + ((cp - 0xD800) << 10) + (_hex4(p + 2) - 0xDC00)
            p += 6
        if cp < 0x80:
            if n + 1 > cap:
                return -1
            out[n] = <uchar>cp
            n += 1
        elif cp < 0x800:
            if n + 2 > cap:
                return -1
            out[n] = <uchar>(0xC0 | (cp >> 6))
            out[n + 1] = <uchar>(0x80 | (cp & 0x3F))
            n += 2
        elif cp < 0x10000:
            if n + 3 > cap:
                return -1
            out[n] = <uchar>(0xE0 | (cp >> 12))
            out[n + 1] = <uchar>(0x80 | ((cp >> 6) & 0x3F))
            out[n + 2] = <uchar>(0x80 | (cp & 0x3F))
            n += 3
        else:
            if n + 4 > cap:
                return -1
            out[n] = <uchar>(0xF0 | (cp >> 18))
            out[n + 1] = <uchar>(0x80 | ((cp >> 12) & 0x3F))
            out[n + 2] = <uchar>(0x80 | ((cp >> 6) & 0x3F))
            out[n + 3] = <uchar>(0x80 | (cp & 0x3F))
            n += 4
    return n


cdef int _member(const uchar* p, const uchar* e, bint escaped, int want) noexcept nogil:
    """Which watched member a top-level key (body ``[p, e)``) names: M_KIND, M_STAMP or M_NONE."""
    cdef uchar buf[16]
    cdef Py_ssize_t n
    if escaped:
        n = _unescape(p, e, buf, 16)
        if n < 0:
            return M_NONE
        p = buf
    else:
        n = e - p
    if n == 4 and want & C_WANT_KIND and memcmp(p, b"kind", 4) == 0:
        return M_KIND
    if n == 9 and want & C_WANT_STAMP and memcmp(p, b"timestamp", 9) == 0:
        return M_STAMP
    return M_NONE


cdef int _kind_code(const uchar* p, const uchar* e, bint escaped) noexcept nogil:
    """Kind bits (pre-shifted) for a ``"kind"`` string value with body ``[p, e)``."""
    cdef uchar buf[16]
    cdef Py_ssize_t n
    if escaped:
        n = _unescape(p, e, buf, 16)
        if n < 0:
            return 0
        p = buf
    else:
        n = e - p
    if n == 5:
        if memcmp(p, b"event", 5) == 0:
            return 1 << C_KIND_SHIFT
        if memcmp(p, b"audit", 5) == 0:
            return 2 << C_KIND_SHIFT
    elif n == 11 and memcmp(p, b"dead_letter", 11) == 0:
        return 3 << C_KIND_SHIFT
    return 0


# ----------------------------------------------------------------------------------------------
# Numbers
# ----------------------------------------------------------------------------------------------


cdef double _exact_double(const uchar* p, Py_ssize_t n, bint* nomem) noexcept with gil:
    """Correctly rounded double of the valid JSON number ``p[:n]`` (infinite on overflow)."""
    cdef char* text = <char*>malloc(n + 1)
    cdef double value
    if text == NULL:
        nomem[0] = True
        return 0.0
    memcpy(text, p, n)
    text[n] = 0
    value = PyOS_string_to_double(text, NULL, NULL)
    free(text)
    if PyErr_Occurred() != NULL:  # MemoryError inside dtoa; the text itself is valid
        PyErr_Clear()
        nomem[0] = True
        return 0.0
    return value


cdef const uchar* _scan_number(const uchar* p, const uchar* e, bint* nomem) noexcept nogil:
    """``p`` is at '-' or a digit: return just past the number, or NULL if it is invalid."""
    cdef const uchar* start = p
    cdef const uchar* q
    cdef Py_ssize_t int_digits = 0
    cdef Py_ssize_t exponent = 0
    cdef bint neg_exp = False
    if p[0] == 0x2D:  # '-'
        p += 1
        if p >= e:
            return NULL
    if p[0] == 0x30:
        p += 1
    elif _is_digit(p[0]):
        q = p
        p = _skip_digits(p + 1, e)
        int_digits = p - q
    else:
        return NULL
    if p < e and p[0] == 0x2E:  # '.'
        p += 1
        q = p
        p = _skip_digits(p, e)
        if p == q:
            return NULL
    if p < e and (p[0] | 0x20) == 0x65:  # 'e' / 'E'
        p += 1
        if p < e and (p[0] == 0x2B or p[0] == 0x2D):
            neg_exp = p[0] == 0x2D
            p += 1
        q = p
        while p < e and _is_digit(p[0]):
            if exponent < 1000000:  # saturate: only "could it reach 1e308?" matters here
                exponent = exponent * 10 + (p[0] - 0x30)
            p += 1
        if p == q:
            return NULL
        if neg_exp:
            exponent = -exponent
    # |value| < 10 ** (int_digits + exponent); below 1e308 it cannot round to infinity.
    if int_digits + exponent > 308:
        if isinf(_exact_double(start, p - start, nomem)):
            return NULL
    return p


cdef double _number_value(const uchar* p, const uchar* e, bint* nomem) noexcept nogil:
    """``float(orjson.loads(p[:e-p]))`` for a valid JSON number."""
    cdef const uchar* start = p
    cdef bint neg = False, is_int = True, neg_exp = False
    cdef uint64_t mantissa = 0
    cdef int sig = 0
    cdef Py_ssize_t frac = 0, exponent = 0, scale
    cdef double value
    if p[0] == 0x2D:
        neg = True
        p += 1
    while p < e and _is_digit(p[0]):
        if sig or p[0] != 0x30:
            if sig < 19:
                mantissa = mantissa * 10 + (p[0] - 0x30)
            sig += 1
        p += 1
    if p < e and p[0] == 0x2E:
        is_int = False
        p += 1
        while p < e and _is_digit(p[0]):
            if sig or p[0] != 0x30:
                if sig < 19:
                    mantissa = mantissa * 10 + (p[0] - 0x30)
                sig += 1
            frac += 1
            p += 1
    if p < e and (p[0] | 0x20) == 0x65:
        is_int = False
        p += 1
        if p < e and (p[0] == 0x2B or p[0] == 0x2D):
            neg_exp = p[0] == 0x2D
            p += 1
        while p < e and _is_digit(p[0]):
            if exponent < 1000000:
                exponent = exponent * 10 + (p[0] - 0x30)
            p += 1
        if neg_exp:
            exponent = -exponent
    if mantissa == 0 and sig == 0:
        # orjson reads the integer -0 as int 0 (float: 0.0) but -0.0 / -0e1 as the float -0.0.
        return -0.0 if neg and not is_int else 0.0
    scale = exponent - frac
    if sig <= 15 and -22 <= scale <= 22 and -1000000 < exponent < 1000000:
        # Clinger's fast path: both operands exact, so one rounding, the correct one.
        value = <double>mantissa
        if scale >= 0:
            value = value * POW10[scale]
        else:
            value = value / POW10[-scale]
        return -value if neg else value
    return _exact_double(start, e - start, nomem)


# ----------------------------------------------------------------------------------------------
# One line
# ----------------------------------------------------------------------------------------------


cdef int _check_line(
    const uchar* p, const uchar* e, int want, double* stamp, uchar* stack,
    const uchar** line_end,
) noexcept nogil:
    """Flags of the line starting at ``p``: 0 if it is not one JSON document.

    The line ends at the first ``"\\n"`` in ``[p, e)``, or at ``e``. No byte of a document or
    of the whitespace around it is a ``"\\n"``, so the validator never steps over one: for a
    valid line it stops at the line's end, which it stores in ``line_end`` (the ``"\\n"``, or
    ``e``) -- the caller needs no separate search for it. For an invalid line ``line_end`` is
    not set (the caller searches from ``p``).

    ``stack`` has room for MAX_DEPTH + 1 bytes (the open containers, '{' or '['). ``stamp``
    receives the timestamp when F_STAMP is returned. R_NOMEM if an exact number conversion
    ran out of memory.

    Shape of the loop: each turn reads one value (preceded by its key inside an object); a
    scalar value is followed by the closing brackets and the ',' after it in the same turn, so
    the only dispatch is "does a key come first", which follows the container type.
    """
    cdef int depth = 0
    cdef bint want_key = False  # the next value is an object member: its key comes first
    cdef int member = M_NONE    # which watched top-level member this value is
    cdef int kind = 0
    cdef bint has_stamp = False
    cdef bint top_object
    cdef bint escaped
    cdef bint nomem = False
    cdef const uchar* q
    cdef const uchar* r
    cdef uchar c

    p = _skip_ws(p, e)
    if p >= e:
        return 0
    top_object = p[0] == 0x7B
    while True:
        # p is at a non-whitespace byte, or at e.
        if want_key:
            if p >= e or p[0] != 0x22:
                return 0  # also a trailing comma: '}' where a key must be
            escaped = False
            q = p + 1
            r = _scan_string_fast(q, e, &escaped)
            if r == NULL:
                return 0
            if depth == 1 and want and top_object:
                member = _member(q, r - 1, escaped, want)
            p = r if (r < e and r[0] == 0x3A) else _skip_ws(r, e)
            if p >= e or p[0] != 0x3A:  # ':'
                return 0
            p = _skip_ws(p + 1, e)
            if p >= e:
                return 0
        elif p >= e:
            return 0
        c = p[0]
        if c == 0x22:  # string
            escaped = False
            q = p + 1
            r = _scan_string_fast(q, e, &escaped)
            if r == NULL:
                return 0
            if member == M_KIND:
                kind = _kind_code(q, r - 1, escaped)
            elif member == M_STAMP:
                has_stamp = False
            p = r
        elif c == 0x7B or c == 0x5B:  # '{' or '['
            if member == M_KIND:
                kind = 0
            elif member == M_STAMP:
                has_stamp = False
            member = M_NONE
            depth += 1
            if depth > MAX_DEPTH:
                return 0
            stack[depth] = c
            p = _skip_ws(p + 1, e)
            if p >= e:
                return 0
            if p[0] != c + 2:  # not empty: '{' + 2 == '}', '[' + 2 == ']'
                want_key = c == 0x7B
                continue
            depth -= 1
            p += 1
        elif c == 0x2D or _is_digit(c):
            q = p
            p = _scan_number(p, e, &nomem)
            if nomem:
                return R_NOMEM
            if p == NULL:
                return 0
            if member == M_KIND:
                kind = 0
            elif member == M_STAMP:
                stamp[0] = _number_value(q, p, &nomem)
                if nomem:
                    return R_NOMEM
                has_stamp = True
        else:
            if c == 0x74 and e - p >= 4 and memcmp(p, b"true", 4) == 0:
                p += 4
            elif c == 0x66 and e - p >= 5 and memcmp(p, b"false", 5) == 0:
                p += 5
            elif c == 0x6E and e - p >= 4 and memcmp(p, b"null", 4) == 0:
                p += 4
            else:
                return 0
            if member == M_KIND:
                kind = 0
            elif member == M_STAMP:
                has_stamp = False
        member = M_NONE
        # After a complete value: close containers until a ',' (next value) or the end.
        while True:
            p = _skip_ws(p, e)
            if depth == 0:
                if p < e and p[0] != 0x0A:
                    return 0  # content after the document
                line_end[0] = p
                if not top_object:
                    return C_F_JSON
                return C_F_JSON | C_F_OBJECT | kind | (C_F_STAMP if has_stamp else 0)
            if p >= e:
                return 0
            c = p[0]
            if c == 0x2C:  # ','
                p = _skip_ws(p + 1, e)
                want_key = stack[depth] == 0x7B
                break
            if c != stack[depth] + 2:  # the matching '}' or ']'
                return 0
            depth -= 1
            p += 1


# ----------------------------------------------------------------------------------------------
# Growable per-line output (malloc'd: filled without the GIL, copied into arrays once)
# ----------------------------------------------------------------------------------------------


cdef struct Lines:
    int64_t* ends
    uchar* flags
    double* stamps
    Py_ssize_t count
    Py_ssize_t cap


cdef int _lines_init(Lines* out, Py_ssize_t cap, bint stamps) noexcept nogil:
    if cap < 16:
        cap = 16
    out.ends = NULL
    out.flags = NULL
    out.stamps = NULL
    out.count = 0
    out.cap = cap
    out.ends = <int64_t*>malloc(cap * sizeof(int64_t))
    out.flags = <uchar*>malloc(cap)
    out.stamps = <double*>malloc(cap * sizeof(double)) if stamps else NULL
    if out.ends == NULL or out.flags == NULL or (stamps and out.stamps == NULL):
        return -1
    return 0


cdef void _lines_free(Lines* out) noexcept nogil:
    free(out.ends)
    free(out.flags)
    free(out.stamps)
    out.ends = NULL
    out.flags = NULL
    out.stamps = NULL


cdef int _lines_grow(Lines* out) noexcept nogil:
    cdef Py_ssize_t cap = out.cap * 2
    cdef void* tmp
    tmp = realloc(out.ends, cap * sizeof(int64_t))
    if tmp == NULL:
        return -1
    out.ends = <int64_t*>tmp
    tmp = realloc(out.flags, cap)
    if tmp == NULL:
        return -1
    out.flags = <uchar*>tmp
    if out.stamps != NULL:
        tmp = realloc(out.stamps, cap * sizeof(double))
        if tmp == NULL:
            return -1
        out.stamps = <double*>tmp
    out.cap = cap
    return 0


cdef inline int _lines_add(Lines* out, int64_t end, uchar flag, double stamp) noexcept nogil:
    if out.count == out.cap and _lines_grow(out) < 0:
        return -1
    out.ends[out.count] = end
    out.flags[out.count] = flag
    if out.stamps != NULL:
        out.stamps[out.count] = stamp
    out.count += 1
    return 0


cdef array.array _Q = _pyarray.array("q")
cdef array.array _D = _pyarray.array("d")


cdef array.array _int64_array(const int64_t* data, Py_ssize_t n):
    cdef array.array out = array.clone(_Q, n, False)
    if n:
        memcpy(out.data.as_voidptr, data, n * sizeof(int64_t))
    return out


# ----------------------------------------------------------------------------------------------
# Buffers
# ----------------------------------------------------------------------------------------------


cdef class _Bytes:
    """The bytes of ``buf`` as the reference sees them, held for the duration of a call."""

    cdef Py_buffer view
    cdef bint held
    cdef object keep

    def __cinit__(self):
        self.held = False

    cdef int acquire(self, object buf) except -1:
        try:
            PyObject_GetBuffer(buf, &self.view, PyBUF_SIMPLE)
        except BufferError:
            # Not C-contiguous: the reference copies such a memoryview once (bytes(view)).
            mv = memoryview(buf)
            if mv.ndim != 1 or mv.itemsize != 1:
                mv = mv.cast("B")  # TypeError, as in the reference
            self.keep = bytes(mv)
            PyObject_GetBuffer(self.keep, &self.view, PyBUF_SIMPLE)
        self.held = True
        return 0

    def __dealloc__(self):
        if self.held:
            PyBuffer_Release(&self.view)


cdef inline Py_ssize_t _range(object buf, object start, object end, Py_ssize_t* stop) except -1:
    size = len(buf)
    if end < 0:
        end = size
    if not 0 <= start <= end <= size:
        raise ValueError(f"invalid range [{start}:{end}] for a buffer of {size} bytes")
    stop[0] = end
    return start


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


cdef class LineTable:
    """Where the lines of a scanned range are and what they hold (see the module docstring)."""

    cdef readonly object start
    cdef readonly object end
    cdef readonly Py_ssize_t count
    cdef readonly object ends
    cdef readonly object flags
    cdef readonly object stamps
    cdef readonly object tail

    def __init__(self, start, end, ends, flags, stamps, tail):
        self.start = start
        self.end = end
        self.count = len(flags)
        self.ends = ends
        self.flags = flags
        self.stamps = stamps
        self.tail = tail

    def __repr__(self):
        return f"<LineTable [{self.start}:{self.end}] {self.count} lines, tail at {self.tail}>"


def scan_lines(buf, start=0, end=-1, *, final=False, want=0):
    cdef Py_ssize_t lo, hi, pos, stop
    cdef Py_ssize_t tail
    cdef const uchar* data
    cdef const uchar* nl
    cdef int cwant = (C_WANT_KIND if want & WANT_KIND else 0) | (
        C_WANT_STAMP if want & WANT_STAMP else 0
    )
    cdef bint cfinal = bool(final)
    cdef bint with_stamps = (cwant & C_WANT_STAMP) != 0
    cdef int flag, checked
    cdef double stamp
    cdef Lines out
    cdef int failed = 0
    cdef uchar* stack
    cdef _Bytes b = _Bytes()

    lo = _range(buf, start, end, &hi)
    b.acquire(buf)
    if hi > b.view.len:  # a multi-byte-item view is addressed in bytes, as the reference does
        raise ValueError(f"invalid range [{start}:{end}] for a buffer of {b.view.len} bytes")
    data = <const uchar*>b.view.buf
    # ~150-byte records: guess the line count so that most scans never reallocate.
    failed = _lines_init(&out, (hi - lo) // 128 + 16, with_stamps)
    stack = <uchar*>malloc(MAX_DEPTH + 1)
    if failed or stack == NULL:
        free(stack)
        _lines_free(&out)
        raise MemoryError()
    tail = hi
    with nogil:
        pos = lo
        while pos < hi:
            stamp = NAN
            # Validate first: a valid line tells where it ends (one pass over its bytes);
            # only an invalid one needs a search for its "\n".
            checked = _check_line(data + pos, data + hi, cwant, &stamp, stack, &nl)
            if checked == R_NOMEM:
                failed = 1
                break
            if checked == 0:
                nl = <const uchar*>memchr(data + pos, 0x0A, hi - pos)
            elif nl == data + hi:
                nl = NULL  # valid up to the end of the range, but no "\n" yet
            if nl == NULL:
                if not cfinal:
                    tail = pos
                    break
                stop = hi
                flag = C_F_NOEOL
            else:
                stop = nl - data + 1
                flag = 0
            if not (checked & C_F_STAMP):
                stamp = NAN
            if _lines_add(&out, stop, <uchar>(flag | checked), stamp) < 0:
                failed = 1
                break
            pos = stop
    free(stack)
    if failed:
        _lines_free(&out)
        raise MemoryError()
    try:
        ends = _int64_array(out.ends, out.count)
        flags = PyByteArray_FromStringAndSize(<char*>out.flags, out.count)
        if with_stamps:
            stamps = array.clone(_D, out.count, False)
            if out.count:
                memcpy((<array.array>stamps).data.as_voidptr, out.stamps, out.count * sizeof(double))
        else:
            stamps = None
    finally:
        _lines_free(&out)
    if end < 0:
        end = len(buf)
    return LineTable(start, end, ends, flags, stamps, tail)


def line_ends(buf, start=0, end=-1, *, final=False):
    cdef Py_ssize_t lo, hi, pos
    cdef const uchar* data
    cdef const uchar* nl
    cdef bint cfinal = bool(final)
    cdef bint noeol = False
    cdef Lines out
    cdef int failed = 0
    cdef _Bytes b = _Bytes()

    lo = _range(buf, start, end, &hi)
    b.acquire(buf)
    if hi > b.view.len:
        raise ValueError(f"invalid range [{start}:{end}] for a buffer of {b.view.len} bytes")
    data = <const uchar*>b.view.buf
    if _lines_init(&out, (hi - lo) // 128 + 16, False) < 0:
        _lines_free(&out)
        raise MemoryError()
    with nogil:
        pos = lo
        while pos < hi:
            nl = <const uchar*>memchr(data + pos, 0x0A, hi - pos)
            if nl == NULL:
                break
            pos = nl - data + 1
            if _lines_add(&out, pos, 0, 0.0) < 0:
                failed = 1
                break
        if not failed and pos < hi and cfinal:
            if _lines_add(&out, hi, C_F_NOEOL, 0.0) < 0:
                failed = 1
            noeol = True
    if failed:
        _lines_free(&out)
        raise MemoryError()
    try:
        ends = _int64_array(out.ends, out.count)
        flags = PyByteArray_FromStringAndSize(<char*>out.flags, out.count)
    finally:
        _lines_free(&out)
    # tail: the first byte not in a line (end when the range ends with "\n" or the scan is final)
    tail = hi if (noeol or pos == hi) else pos
    if end < 0:
        end = len(buf)
    return LineTable(start, end, ends, flags, None, tail)


cdef inline void _lut(object mask, object value, uchar* lut):
    """lut[f] = 1 where ``f & mask == value`` for a flag byte f (Python int semantics)."""
    cdef int m, v, f
    m = mask & 0xFF  # f < 256, so only the low byte of mask matters (also for negative masks)
    if not 0 <= value <= 0xFF:
        for f in range(256):
            lut[f] = 0
        return
    v = value
    for f in range(256):
        lut[f] = 1 if (f & m) == v else 0


cdef inline Py_ssize_t _first(object first, Py_ssize_t n) except? -1:
    """``first`` normalised as ``bytes.find`` treats a start index."""
    if first < 0:
        first = first + n
        if first < 0:
            return 0
        return first
    if first > n:
        return n
    return first


def invalid_lines(table):
    return select_lines(table, C_F_JSON | C_F_NOEOL, 0)


def select_lines(table, mask, value, first=0):
    cdef uchar lut[256]
    cdef const uchar[::1] flags = table.flags
    cdef Py_ssize_t n = flags.shape[0]
    cdef Py_ssize_t i, k = 0, hits = 0
    cdef Py_ssize_t lo = _first(first, n)
    cdef array.array out
    cdef int64_t* dst
    _lut(mask, value, lut)
    for i in range(lo, n):
        hits += lut[flags[i]]
    out = array.clone(_Q, hits, False)
    if hits:
        dst = <int64_t*>out.data.as_voidptr
        for i in range(lo, n):
            if lut[flags[i]]:
                dst[k] = i
                k += 1
    return out


def count_lines(table, mask, value, first=0):
    cdef uchar lut[256]
    cdef const uchar[::1] flags = table.flags
    cdef Py_ssize_t n = flags.shape[0]
    cdef Py_ssize_t i, hits = 0
    cdef Py_ssize_t lo = _first(first, n)
    _lut(mask, value, lut)
    for i in range(lo, n):
        hits += lut[flags[i]]
    return hits


def spans(table, mask, value, first=0):
    cdef uchar lut[256]
    cdef const uchar[::1] flags = table.flags
    cdef const long long[::1] ends
    cdef Py_ssize_t n = flags.shape[0]
    cdef Py_ssize_t count = table.count
    cdef Py_ssize_t i, j
    cdef Py_ssize_t lo = _first(first, n)
    cdef int64_t start = table.start
    cdef Lines out
    cdef int failed = 0
    _lut(mask, value, lut)
    ends_obj = table.ends
    if n:
        ends = ends_obj
    if _lines_init(&out, 16, False) < 0:
        _lines_free(&out)
        raise MemoryError()
    i = lo
    while True:
        while i < n and not lut[flags[i]]:
            i += 1
        if i >= n:
            break
        j = i + 1
        while j < n and lut[flags[j]]:
            j += 1
        if j >= n:
            j = count
        if (_lines_add(&out, ends[i - 1] if i else start, 0, 0.0) < 0
                or _lines_add(&out, ends[j - 1], 0, 0.0) < 0):
            failed = 1
            break
        if j == count:
            break
        i = j
    if failed:
        _lines_free(&out)
        raise MemoryError()
    try:
        return _int64_array(out.ends, out.count)
    finally:
        _lines_free(&out)


def encode_record(record, default=None):
    if type(record) is dict:
        return _line(<dict>record, default)
    return _serial.encode_line(record, default)


def encode_records(records, default=None):
    return b"".join([encode_record(record, default) for record in records])


def encode_fields(record, kind, schema, default=None):
    cdef dict src
    cdef dict out
    cdef tuple entries
    cdef tuple entry
    cdef object value, fix, t
    if type(record) is not dict:
        raise TypeError(f"record must be a dict, not {type(record).__name__}")
    if type(schema) is not tuple:
        raise TypeError(f"schema must be a tuple, not {type(schema).__name__}")
    src = <dict>record
    entries = <tuple>schema
    out = {"kind": kind}
    for item in entries:
        if type(item) is not tuple or len(<tuple>item) != 4:
            raise ValueError(f"schema entries are (name, missing, fix, optional), not {item!r}")
        entry = <tuple>item
        value = src.get(entry[0], entry[1])
        fix = entry[2]
        if fix is not None:
            t = type(value)
            if t is not str and t is not int and t is not float:
                value = fix(value)
        if value is None and entry[3]:
            continue
        out[entry[0]] = value
    return _line(out, default)


# (default, hook, option) of the last _line call: what _serial.encode_line hands orjson.
cdef tuple _ORJSON_CALL = (None, None, 0)


cdef object _line(dict obj, object default):
    """``_serial.encode_line(obj, default)``: the same orjson call made from here, without a
    Python frame or a new hook per record; anything else goes to ``_serial`` itself."""
    global _ORJSON_CALL
    cdef tuple call
    if _orjson_dumps is not None and _serial.BACKEND == "orjson":
        call = _ORJSON_CALL
        if call[0] is not default or call[1] is None:
            hook, option = _serial.orjson_call(default)
            call = _ORJSON_CALL = (default, hook, option)
        try:
            return _orjson_dumps(obj, default=call[1], option=call[2])
        except _OrjsonEncodeError:
            pass  # values orjson refuses: _serial normalises them
    return _serial.encode_line(obj, default)


# -- plain JSON data (the cluster codec) ------------------------------------------------------

PLAIN_DEPTH = 200
cdef int _PLAIN_DEPTH = PLAIN_DEPTH


cdef bint _plain(object value, str reserved, int depth) except -1:
    cdef type kind = type(value)
    cdef Py_ssize_t pos = 0
    cdef PyObject* key
    cdef PyObject* item
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return isfinite(<double>value)
    if depth <= 0:
        return False
    if kind is dict:
        # Type checks and str comparisons only: no user code runs while the borrowed
        # references of PyDict_Next are held.
        while PyDict_Next(value, &pos, &key, &item):
            if type(<object>key) is not str or <str>key == reserved:
                return False
            if not _plain(<object>item, reserved, depth - 1):
                return False
        return True
    if kind is list:
        for element in <list>value:
            if not _plain(element, reserved, depth - 1):
                return False
        return True
    return False


def is_plain(value, str reserved):
    return _plain(value, reserved, _PLAIN_DEPTH)
