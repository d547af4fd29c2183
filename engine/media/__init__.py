"""Media layer (PyAV + OpenCV): probe, seekable RGB reader with a frame cache, atomic video/still writers.

Only this package, jobs/ and the caches touch media files. Imports numpy, av and cv2 only.
"""

from engine.document.timecode import frames_to_timecode, offset_timecode, timecode_to_frames
from engine.media.colour import ColourSpec
from engine.media.encode import CODECS, STEREO_MODES, EncodeSettings, drops_bit_depth
from engine.media.info import AudioStreamInfo, MediaInfo, VideoStreamInfo
from engine.media.probe import probe
from engine.media.reader import Frame, FrameIndexError, MediaReader, open_media
from engine.media.stills import STILL_EXTENSIONS, is_still_path, read_still, write_still
from engine.media.writer import VideoWriter, commit_together

__all__ = [
    "CODECS",
    "STEREO_MODES",
    "STILL_EXTENSIONS",
    "AudioStreamInfo",
    "ColourSpec",
    "EncodeSettings",
    "Frame",
    "FrameIndexError",
    "MediaInfo",
    "MediaReader",
    "VideoStreamInfo",
    "VideoWriter",
    "commit_together",
    "drops_bit_depth",
    "frames_to_timecode",
    "is_still_path",
    "offset_timecode",
    "open_media",
    "probe",
    "read_still",
    "timecode_to_frames",
    "write_still",
]
