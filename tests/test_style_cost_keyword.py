"""nst_utils.make_cost_function / run_style_transfer paint with a whole style term of one's own (style_cost=)."""
import numpy as np

import nst_utils as nu


def test_make_cost_function_uses_the_given_style_cost(tiny_model, make_images):
    content, style = make_images(16, 24, 0)
    x_C, x_S = nu.preprocess(content, tiny_model.mean), nu.preprocess(style, tiny_model.mean)
    x = nu.generate_noise_image(x_C, 0.6, seed=0)
    calls = []

    def doubled(a_S, a_G, style_layers=nu.STYLE_LAYERS):
        calls.append([n for n, _ in style_layers])
        return 2.0 * nu.compute_style_cost(a_S, a_G, style_layers)

    _, _, J_style, _ = nu.make_cost_function(tiny_model, x_C, x_S)(x)
    _, _, J_doubled, _ = nu.make_cost_function(tiny_model, x_C, x_S, style_cost=doubled)(x)
    np.testing.assert_allclose(float(J_doubled), 2 * float(J_style), rtol=1e-4)
    assert calls == [[n for n, _ in nu.STYLE_LAYERS]]  # traced once, with the active layers
    result = nu.run_style_transfer(tiny_model, content, style, iterations=1, seed=0, style_cost=doubled)
    np.testing.assert_allclose(result.history[0]["J_style"], 2 * float(J_style), rtol=1e-4)
