"""Headset preview over OpenXR (pyopenxr).

The XR side never imports Qt or the engine: `session.XrPreview` runs the OpenXR session and frame loop
on its own thread and shows whatever side-by-side image it was last given; `controller` is the thin Qt
adapter the studio uses. That split lets the real-runtime test run the XR code inside the Monado chroot
(tools/xr/monado_chroot.sh), where only numpy, PyOpenGL and pyopenxr are installed.
"""
