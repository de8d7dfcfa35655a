"""``python -m lightsail_images``: the same as the ``lightsail-images`` command."""

from lightsail_images._cli import run

if __name__ == "__main__":
    run()
