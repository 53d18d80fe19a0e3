"""The learned refiner: a small network that redraws the mouth of a warped frame (issue 13)."""
