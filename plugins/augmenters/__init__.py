"""Built-in augmenters: differentiable transforms of the images the discriminator sees."""
