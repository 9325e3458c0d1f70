"""The one error the picture pipeline raises."""


class ImageError(ValueError):
    """A picture that cannot be answered; the message is one line for the user."""
