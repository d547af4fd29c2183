"""The timeline: shots with thumbnails, playhead, cut markers and one keyframe row per grade track."""
