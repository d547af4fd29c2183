"""Frame batching and tensor preprocessing shared by the learned depth providers.

Pure functions on arrays and tensors; they run wherever the tensors live (CPU or CUDA).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_frame(frame: np.ndarray) -> None:
    """Guard one input frame: (H, W, 3) RGB, uint8, uint16 or float in [0, 1]."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"depth providers take (H, W, 3) RGB frames, got shape {frame.shape}")
    if frame.dtype not in (np.uint8, np.uint16) and not np.issubdtype(frame.dtype, np.floating):
        raise ValueError(f"depth providers take uint8, uint16 or float frames, got {frame.dtype}")


def batched(frames: Iterable[np.ndarray], batch_size: int) -> Iterator[list[np.ndarray]]:
    """Group consecutive frames into lists of at most ``batch_size`` frames of one shape.

    Reads ahead by at most ``batch_size`` frames; a change of frame size closes the batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch: list[np.ndarray] = []
    for frame in frames:
        check_frame(frame)
        if batch and (frame.shape != batch[0].shape or len(batch) == batch_size):
            yield batch
            batch = []
        batch.append(frame)
    if batch:
        yield batch


def frames_to_tensor(frames: list[np.ndarray], device: torch.device) -> Tensor:
    """Stack RGB frames into a float batch on ``device``.

    Args:
        frames: B arrays (H, W, 3), uint8 / uint16 / float in [0, 1], one shape.
    Returns:
        (B, 3, H, W) float32 in [0, 1] on ``device`` (uint8 is uploaded as uint8, converted there).
    """
    stack = np.stack(frames)
    if stack.dtype == np.uint8:
        images = torch.from_numpy(stack).to(device, non_blocking=True).float().div_(255.0)
    elif stack.dtype == np.uint16:
        images = torch.from_numpy(stack.astype(np.float32) / 65535.0).to(device)
    else:
        images = torch.from_numpy(stack.astype(np.float32, copy=False)).to(device)
    return images.permute(0, 3, 1, 2).contiguous()


def working_size(height: int, width: int, short_side: int, multiple: int) -> tuple[int, int]:
    """The size a frame is resized to: short side ``short_side``, aspect kept, both sides multiples.

    Each side is rounded to the nearest multiple of ``multiple`` (at least one multiple),
    so the aspect ratio is kept to within half a patch per side.

    Returns:
        (height, width) in pixels.
    """
    if min(height, width, short_side, multiple) < 1:
        raise ValueError(f"bad sizes: frame {height}x{width}, short side {short_side}, multiple {multiple}")
    scale = short_side / min(height, width)

    def snap(side: int) -> int:
        return max(multiple, int(round(side * scale / multiple)) * multiple)

    return snap(height), snap(width)


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    """The size with the long side ``long_side`` and the aspect kept (floored, as Marigold does).

    Returns:
        (height, width) in pixels, each at least 1.
    """
    if min(height, width, long_side) < 1:
        raise ValueError(f"bad sizes: frame {height}x{width}, long side {long_side}")
    longest = max(height, width)
    return max(1, height * long_side // longest), max(1, width * long_side // longest)


def resize_images(images: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of an image batch, antialiased when shrinking, computed in float32.

    Args:
        images: (B, 3, H, W) float in [0, 1].
        size: (h, w) target size.
    Returns:
        (B, 3, h, w) float32 in [0, 1].
    """
    images = images.float()
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True).clamp_(0, 1)


def resize_normalise(
    images: Tensor, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
) -> Tensor:
    """Resize (bicubic, antialiased when shrinking) and normalise a batch for a ViT.

    Args:
        images: (B, 3, H, W) float in [0, 1].
        size: (h, w) target size.
        mean, std: per-channel normalisation (3 values each).
    Returns:
        (B, 3, h, w) float, (x - mean) / std.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) images, got {tuple(images.shape)}")
    if tuple(images.shape[-2:]) != tuple(size):
        images = F.interpolate(images, size=size, mode="bicubic", align_corners=False, antialias=True)
        images = images.clamp_(0.0, 1.0)
    mean_t = torch.tensor(mean, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - mean_t) / std_t


def resize_depth(depth: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of a depth batch back to the frame size.

    Args:
        depth: (B, h, w) or (B, 1, h, w) float.
        size: (H, W) target size.
    Returns:
        (B, H, W) float32.
    """
    if depth.ndim == 3:
        depth = depth.unsqueeze(1)
    if depth.ndim != 4 or depth.shape[1] != 1:
        raise ValueError(f"expected (B, h, w) or (B, 1, h, w) depth, got {tuple(depth.shape)}")
    depth = depth.float()
    if tuple(depth.shape[-2:]) != tuple(size):
        depth = F.interpolate(depth, size=size, mode="bilinear", align_corners=False)
    return depth[:, 0]


def to_numpy_maps(depth: Tensor) -> Iterator[np.ndarray]:
    """(B, H, W) tensor -> B contiguous (H, W) float32 numpy arrays."""
    host = depth.detach().to("cpu", torch.float32).numpy()
    for plane in host:
        yield np.ascontiguousarray(plane)
