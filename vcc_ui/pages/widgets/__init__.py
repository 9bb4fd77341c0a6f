"""Small reusable widgets of the pages: image, job card, lightbox, input slot, thumbnail strip."""
