//! The view transform: which part of the world is on screen, at what scale.

/// Pan and zoom over the layout's world (the unit disc at zoom 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// World point at the centre of the screen.
    pub center: [f32; 2],
    /// Zoom: 1 fits the unit disc in the shorter side with a margin.
    pub zoom: f32,
    /// Screen size, pixels.
    pub size: [u32; 2],
}

/// The margin around the disc at zoom 1, as a share of the shorter side.
const MARGIN: f32 = 0.04;

impl Camera {
    /// The whole network on a screen of `size`.
    pub fn fit(size: [u32; 2]) -> Self {
        Camera {
            center: [0.0, 0.0],
            zoom: 1.0,
            size,
        }
    }

    /// Pixels per world unit.
    pub fn scale(&self) -> f32 {
        let short = self.size[0].min(self.size[1]).max(1) as f32;
        short * (1.0 - 2.0 * MARGIN) / 2.0 * self.zoom
    }

    /// Screen position (pixels, y down) of a world point.
    pub fn to_screen(&self, p: [f32; 2]) -> [f32; 2] {
        let s = self.scale();
        [
            (p[0] - self.center[0]) * s + self.size[0] as f32 / 2.0,
            (self.center[1] - p[1]) * s + self.size[1] as f32 / 2.0,
        ]
    }

    /// World point under a screen position.
    pub fn to_world(&self, px: [f32; 2]) -> [f32; 2] {
        let s = self.scale();
        [
            (px[0] - self.size[0] as f32 / 2.0) / s + self.center[0],
            self.center[1] - (px[1] - self.size[1] as f32 / 2.0) / s,
        ]
    }

    /// Zooms by `factor` keeping the world point under `px` in place.
    pub fn zoom_at(&mut self, px: [f32; 2], factor: f32) {
        let before = self.to_world(px);
        self.zoom = (self.zoom * factor).clamp(0.2, 20_000.0);
        let after = self.to_world(px);
        self.center[0] += before[0] - after[0];
        self.center[1] += before[1] - after[1];
    }

    /// Moves the view by a screen drag of `dx, dy` pixels.
    pub fn pan(&mut self, dx: f32, dy: f32) {
        let s = self.scale();
        self.center[0] -= dx / s;
        self.center[1] += dy / s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_and_world_round_trip_and_zoom_keeps_the_cursor_point() {
        let mut c = Camera::fit([800, 600]);
        let p = [0.3, -0.2];
        let s = c.to_screen(p);
        let back = c.to_world(s);
        assert!((back[0] - p[0]).abs() < 1e-5 && (back[1] - p[1]).abs() < 1e-5);
        // The origin is the screen centre; up in the world is up on screen.
        assert_eq!(c.to_screen([0.0, 0.0]), [400.0, 300.0]);
        assert!(c.to_screen([0.0, 0.5])[1] < 300.0);
        let under = c.to_world([100.0, 50.0]);
        c.zoom_at([100.0, 50.0], 8.0);
        let still = c.to_world([100.0, 50.0]);
        assert!((under[0] - still[0]).abs() < 1e-5 && (under[1] - still[1]).abs() < 1e-5);
        c.pan(10.0, 0.0);
        assert!(c.to_world([100.0, 50.0])[0] < still[0]);
    }
}
