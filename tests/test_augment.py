"""Augmentation: properties on small generated batches; torchvision as reference."""

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.transforms import InterpolationMode

from coursekit.training import augment

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def uint8_batch(n: int = 16, size: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("name", list(augment.AUGMENTATIONS))
def test_every_augmentation_keeps_shape_dtype_device_and_range(name, dtype, device):
    images = uint8_batch().to(device)
    images = images if dtype == torch.uint8 else images.to(dtype) / 255
    generator = torch.Generator(device).manual_seed(0)
    out = augment.get_augmentation(name)(images, generator=generator)
    assert out.shape == images.shape and out.dtype == dtype
    assert out.device == images.device
    assert out.min() >= 0 and out.max() <= (255 if dtype == torch.uint8 else 1)


@pytest.mark.parametrize("name", list(augment.AUGMENTATIONS))
def test_same_seed_same_output(name):
    images, fn = uint8_batch(), augment.get_augmentation(name)
    first = fn(images, generator=torch.Generator().manual_seed(7))
    again = fn(images, generator=torch.Generator().manual_seed(7))
    other = fn(images, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert name == "none" or not torch.equal(first, other)


def test_augmentations_keep_shape_dtype_and_content():
    images = torch.randint(0, 255, (16, 3, 8, 8), dtype=torch.uint8)
    for name in augment.AUGMENTATIONS:
        out = augment.get_augmentation(name)(images, generator=torch.Generator())
        assert out.shape == images.shape and out.dtype == images.dtype
    for flip, dim in [(augment.random_hflip, -1), (augment.random_vflip, -2)]:
        flipped = flip(images)
        same = (flipped == images).flatten(1).all(1)
        mirrored = (flipped == images.flip(dim)).flatten(1).all(1)
        assert torch.all(same | mirrored) and same.any() and mirrored.any()


def test_random_crop_is_a_shifted_window_of_the_reflected_image():
    images = torch.arange(2 * 1 * 6 * 6, dtype=torch.uint8).view(2, 1, 6, 6)
    generator = torch.Generator().manual_seed(3)
    crops = augment.random_crop(images, padding=2, generator=generator)
    padded = nn.functional.pad(images.float(), (2,) * 4, mode="reflect").to(torch.uint8)
    for i in range(2):
        windows = [padded[i, :, y:y + 6, x:x + 6] for y in range(5) for x in range(5)]
        assert any(torch.equal(crops[i], w) for w in windows)
    with pytest.raises(ValueError, match="unknown augmentation 'cutout'"):
        augment.get_augmentation("cutout")


def test_forced_flips_applied_twice_give_the_input_back():
    images = uint8_batch()
    for flip, dim in [(augment.random_hflip, -1), (augment.random_vflip, -2)]:
        once = flip(images, p=1.0)
        assert torch.equal(once, images.flip(dim))
        assert torch.equal(flip(once, p=1.0), images)
        assert torch.equal(flip(images, p=0.0), images)


def test_rotation_by_zero_degrees_is_the_identity():
    images = uint8_batch()
    assert torch.equal(augment.rotate(images, 0.0), images)
    floats = images / 255
    assert torch.allclose(augment.rotate(floats, torch.zeros(16)), floats, atol=1e-6)
    assert torch.equal(augment.random_rotation(images, degrees=0), images)


def test_positive_angle_turns_counter_clockwise_like_rot90():
    images = uint8_batch()
    assert torch.equal(augment.rotate(images, 90.0), torch.rot90(images, 1, (-2, -1)))
    assert torch.equal(augment.rotate(images, -90.0), torch.rot90(images, -1, (-2, -1)))


@pytest.mark.parametrize("mode", [InterpolationMode.BILINEAR,
                                  InterpolationMode.NEAREST])
def test_rotation_matches_torchvision_rotate_image_by_image(mode):
    images = torch.rand(3, 3, 6, 10, generator=torch.Generator().manual_seed(0))
    angles = torch.tensor([20.0, -33.0, 7.5])
    ours = augment.rotate(images, angles, interpolation=mode.value)
    reference = torch.stack([TF.rotate(image, angle.item(), interpolation=mode)
                             for image, angle in zip(images, angles)])
    assert torch.allclose(ours, reference, atol=1e-5)


def test_random_rotation_gives_each_image_its_own_angle():
    image = torch.zeros(1, 1, 9, 9, dtype=torch.uint8)
    image[..., 4, :] = 255                                   # a horizontal bar
    out = augment.random_rotation(image.expand(8, 1, 9, 9), degrees=45,
                                  generator=torch.Generator().manual_seed(0))
    assert len({tuple(o.flatten().tolist()) for o in out}) == 8


def test_color_jitter_with_zero_strengths_is_the_identity():
    images = uint8_batch()
    out = augment.color_jitter(images, 0, 0, 0, generator=torch.Generator())
    assert torch.equal(out, images)
    floats = images / 255
    assert torch.equal(augment.color_jitter(floats, 0, 0, 0), floats)


def test_adjust_colors_matches_torchvision_in_its_order():
    images = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    factors = torch.tensor([[0.6, 1.0, 1.4, 0.0],     # brightness, one per image
                            [1.3, 0.7, 1.0, 2.0],     # contrast
                            [0.9, 1.1, 0.0, 1.5]])    # saturation
    ours = augment.adjust_colors(images, *factors)
    reference = torch.stack([
        TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(image, b), c), s)
        for image, (b, c, s) in zip(images, factors.T.tolist())])
    assert torch.allclose(ours, reference, atol=1e-6)


def test_bright_uint8_images_saturate_at_255_instead_of_wrapping():
    images = torch.full((2, 3, 4, 4), 200, dtype=torch.uint8)
    assert torch.all(augment.adjust_colors(images, brightness=1.5) == 255)
    grey = torch.full((2, 1, 4, 4), 100, dtype=torch.uint8)  # one channel works too
    assert torch.all(augment.adjust_colors(grey, brightness=0.5, saturation=0.0) == 50)


def test_color_jitter_rejects_negative_strengths_and_four_channels():
    with pytest.raises(ValueError, match="contrast must be >= 0"):
        augment.color_jitter(uint8_batch(), contrast=-0.1)
    with pytest.raises(ValueError, match="C = 4"):
        augment.color_jitter(torch.zeros(2, 4, 8, 8, dtype=torch.uint8))
