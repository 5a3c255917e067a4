"""How a received file's bytes are stored: gzip chunks of CHUNK_BYTES each (raw.feed_file_chunks).

Its own module because the ingest (receive.py and loader.py, which store new files) and the
database migration (which moved the bytes of a first release into chunks) both write them, and
neither may import the other.
"""

from __future__ import annotations

from isal import isal_zlib

CHUNK_BYTES = 1024 * 1024


def gzip_chunk(data: bytes) -> bytes:
    """One independent gzip member: the chunks concatenated are a valid gzip file.

    ISA-L (level 1) writes standard gzip about four times faster than zlib's fastest level.
    """
    compressor = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()
