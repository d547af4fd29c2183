"""A source's first audio stream decoded to PCM in memory, for the studio's playback and scrubbing."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError


def decode_pcm(path: str | Path, rate: int = 48_000, channels: int = 2) -> np.ndarray | None:
    """The first audio stream as float32 samples, resampled to `rate` and `channels`.

    Sample 0 is at the source's first video frame (source time 0), so sample i plays at i / rate s.

    Returns:
        (N, channels) float32 in [-1, 1], or None when the file has no audio stream.
    Raises:
        MediaError: the file cannot be read.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            video = container.streams.video[0] if container.streams.video else None
            origin = float(video.start_time * video.time_base) if video and video.start_time is not None else 0.0
            stream = container.streams.audio[0]
            layout = "stereo" if channels == 2 else "mono"
            resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
            chunks, first = [], None
            for frame in container.decode(stream):
                if first is None and frame.pts is not None:
                    first = float(frame.pts * frame.time_base)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1, channels))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1, channels))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot decode its audio ({exc})", path=path) from exc
    pcm = np.concatenate(chunks) if chunks else np.zeros((0, channels), np.float32)
    lead = int(round(((first or 0.0) - origin) * rate))
    if lead > 0:
        pcm = np.concatenate([np.zeros((lead, channels), np.float32), pcm])
    elif lead < 0:
        pcm = pcm[-lead:]
    return np.ascontiguousarray(pcm, dtype=np.float32)
