"""Read one member of a zip with a hard cap on what it inflates to, whatever its header declares.

A zip's directory declares each member's size, and nothing holds the member to
it: a megabyte of deflate inflates to a gigabyte, and `zipfile` inflates what
one read asks for in one piece before it compares sizes. `read_member` inflates
in chunks, at most one byte past the cap, and refuses the member there. Only
stored and deflated members are read (what pex writes): `zipfile` gives bzip2
and lzma no output limit at all.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import BinaryIO

MAX_MEMBER_BYTES = 2**20  # PEX-INFO and the stamp: a few KiB in the fraud trainer
_CHUNK = 64 * 2**10
_ENCRYPTED = 0x1
_UTF8_NAME = 0x800


class BadMember(ValueError):
    """A member that cannot be read within the cap; the message starts with its name."""


def read_member(file: BinaryIO, info: zipfile.ZipInfo, limit: int = MAX_MEMBER_BYTES) -> bytes:
    """The bytes of the member `info` of the zip in `file` (seekable), refused past `limit` bytes inflated."""
    name = info.filename
    if info.flag_bits & _ENCRYPTED:
        raise BadMember(f"{name} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise BadMember(f"{name} is compressed with method {info.compress_type}; only stored and deflated members are read")
    too_large = BadMember(f"{name} inflates to more than {limit} bytes ({limit / 2**20:g} MiB), the most read of one member")
    if info.file_size > limit:
        raise too_large
    _seek_to_data(file, info)
    if info.compress_type == zipfile.ZIP_STORED:
        data = file.read(min(info.compress_size, limit + 1))
    else:
        data = _inflate(file, limit + 1, name)
    if len(data) > limit:
        raise too_large
    if zlib.crc32(data) != info.CRC:
        raise BadMember(f"{name} does not match its CRC-32")
    return data


def _seek_to_data(file: BinaryIO, info: zipfile.ZipInfo) -> None:
    """Past the member's local header, after checking that it names the same member as the directory does."""
    file.seek(info.header_offset)
    header = file.read(zipfile.sizeFileHeader)
    if len(header) != zipfile.sizeFileHeader or header[:4] != zipfile.stringFileHeader:
        raise BadMember(f"{info.filename} has no local header where the zip directory says")
    fields = struct.unpack(zipfile.structFileHeader, header)
    name_length, extra_length = fields[zipfile._FH_FILENAME_LENGTH], fields[zipfile._FH_EXTRA_FIELD_LENGTH]
    local_name = file.read(name_length).decode("utf-8" if info.flag_bits & _UTF8_NAME else "cp437", errors="replace")
    if local_name != info.orig_filename:
        raise BadMember(f"{info.filename} is named {local_name!r} in its local header")
    file.seek(extra_length, 1)


def _inflate(file: BinaryIO, most: int, name: str) -> bytes:
    """Raw deflate from `file`, inflated until its stream ends or `most` bytes have come out."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = bytearray()
    while not inflater.eof and len(out) < most:
        chunk = inflater.unconsumed_tail or file.read(_CHUNK)
        if not chunk:
            raise BadMember(f"{name} ends before its deflate stream does")
        out += inflater.decompress(chunk, most - len(out))
    return bytes(out)
