"""Built-in regularizers of the discriminator: R1 and LeCam."""
