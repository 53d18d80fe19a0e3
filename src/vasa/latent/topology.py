"""Named landmark index sets of the MediaPipe 478-point face mesh.

"Right" and "left" are the subject's: the right eye is on the image's left in a frontal photo.
"""

from __future__ import annotations

import numpy as np

FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
             109]
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39,
              40, 185]
# Inner lip contour, closed polygon: upper lip from corner 78 to corner 308, then lower lip back.
LIPS_INNER_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LIPS_INNER_LOWER = [308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78]
LIPS_INNER = LIPS_INNER_UPPER + LIPS_INNER_LOWER[1:-1]

# Eye contours as (upper lid, lower lid) point pairs facing each other, corners first.
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (263, 362)
RIGHT_EYE_UPPER = [246, 161, 160, 159, 158, 157, 173]
RIGHT_EYE_LOWER = [7, 163, 144, 145, 153, 154, 155]
LEFT_EYE_UPPER = [466, 388, 387, 386, 385, 384, 398]
LEFT_EYE_LOWER = [249, 390, 373, 374, 380, 381, 382]
RIGHT_EYE = [33] + RIGHT_EYE_UPPER + [133] + RIGHT_EYE_LOWER[::-1]  # closed polygon
LEFT_EYE = [263] + LEFT_EYE_UPPER + [362] + LEFT_EYE_LOWER[::-1]
EYE_LIDS = RIGHT_EYE_UPPER + RIGHT_EYE_LOWER + LEFT_EYE_UPPER + LEFT_EYE_LOWER

# Iris: centre then 4 rim points. Which of MediaPipe's two iris groups sits in which eye is
# checked against the eye corners at basis-build time (see basis.py), not assumed.
IRIS_A = [468, 469, 470, 471, 472]
IRIS_B = [473, 474, 475, 476, 477]

# Cheeks (50, 280, 101, 330) and forehead (151): the face's plain skin, away from the eyes'
# shadow, make-up and the lips (`render.appearance`'s skin colour, `evaluation.lid_seam.lid_tone`).
SKIN_POINTS = (50, 280, 101, 330, 151)
RIGHT_BROW = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46]
LEFT_BROW = [300, 293, 334, 296, 336, 285, 295, 282, 283, 276]
NOSE = [1, 2, 4, 5, 6, 168, 195, 197, 98, 327, 64, 294, 48, 278, 129, 358, 19, 94]

# Points that move with the skull and hardly with expression: nose bridge, eye corners, upper
# forehead, temples. Head pose is fitted on these alone so that talking does not tilt the head.
RIGID = [6, 168, 197, 195, 5, 4, 33, 133, 362, 263, 10, 151, 9, 109, 338, 67, 297, 127, 356,
         162, 389, 234, 454]

# Extra interior points (cheeks, chin, forehead, nasolabial folds) so the warp mesh bends smoothly.
FILL = [50, 280, 101, 330, 205, 425, 207, 427, 187, 411, 123, 352, 116, 345, 147, 376, 192, 416,
        214, 434, 32, 262, 200, 199, 175, 18, 83, 313, 201, 421, 104, 333, 69, 299, 108, 337, 151,
        9, 8, 117, 346, 118, 347, 36, 266, 142, 371, 203, 423, 206, 426, 57, 287, 43, 273, 204, 424,
        210, 430, 169, 394, 135, 364]

NUM_MESH = 468  # points 468..477 are the iris


def mesh_points() -> np.ndarray:
    """Landmark indices used as vertices of the render mesh (sorted, unique)."""
    groups = (FACE_OVAL, LIPS_OUTER, LIPS_INNER, RIGHT_EYE, LEFT_EYE, RIGHT_BROW, LEFT_BROW, NOSE,
              RIGID, FILL)
    return np.unique(np.concatenate([np.asarray(g) for g in groups]))


def dynamics_points() -> np.ndarray:
    """Mesh points whose motion the PCA dynamics basis models: all but eyelids and iris, which
    have explicit parameters (openness, gaze)."""
    keep = np.ones(NUM_MESH, bool)
    keep[EYE_LIDS] = False
    return np.flatnonzero(keep)
