"""``python -m ganaug`` (what ``torchrun -m ganaug`` runs)."""

from ganaug.apps.cli import main

if __name__ == "__main__":
    main()
