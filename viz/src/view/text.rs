//! Text in the GPU picture: the title, the legend and the group labels, so a PNG reads
//! without the README.
//!
//! glyphon shapes text with cosmic-text and draws its glyphs from an atlas in the same
//! render pass as the network. The font is embedded (DejaVu Sans Mono, its licence in
//! `viz/assets/`), so a picture has the same text on every machine, with or without
//! system fonts.

use glyphon::{
    Attrs, Buffer, Cache, Color, Family, FontSystem, Metrics, Resolution, Shaping, SwashCache,
    TextArea, TextAtlas, TextBounds, TextRenderer, Viewport,
};

use super::ViewError;
use super::render::Gpu;

/// The embedded font.
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSansMono.ttf");
/// Its family name.
const FAMILY: &str = "DejaVu Sans Mono";

/// One piece of text: where its top-left corner is (pixels), how tall (pixels), its
/// colour (sRGB).
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The text (one line).
    pub text: String,
    /// Top-left corner, pixels from the picture's top-left.
    pub at: [f32; 2],
    /// Font size, pixels.
    pub size: f32,
    /// Colour, sRGB with alpha.
    pub color: [u8; 4],
}

/// The text pipeline for one target format.
pub struct TextLayer {
    fonts: FontSystem,
    swash: SwashCache,
    viewport: Viewport,
    atlas: TextAtlas,
    renderer: TextRenderer,
    buffers: Vec<Buffer>,
}

impl TextLayer {
    /// The pipeline for drawing into textures of `format`.
    pub fn new(gpu: &Gpu, format: wgpu::TextureFormat) -> Self {
        let mut db = glyphon::fontdb::Database::new();
        db.load_font_data(FONT.to_vec());
        let mut fonts = FontSystem::new_with_locale_and_db("en-US".into(), db);
        let cache = Cache::new(&gpu.device);
        let viewport = Viewport::new(&gpu.device, &cache);
        let mut atlas = TextAtlas::new(&gpu.device, &gpu.queue, &cache, format);
        let renderer = TextRenderer::new(
            &mut atlas,
            &gpu.device,
            wgpu::MultisampleState::default(),
            None,
        );
        // Shaping needs the font system once; an empty buffer warms nothing up.
        let _ = Buffer::new(&mut fonts, Metrics::new(12.0, 14.0));
        Self {
            fonts,
            swash: SwashCache::new(),
            viewport,
            atlas,
            renderer,
            buffers: Vec::new(),
        }
    }

    /// Shapes `labels` and uploads their glyphs for a target of `size` pixels.
    pub fn prepare(
        &mut self,
        gpu: &Gpu,
        size: [u32; 2],
        labels: &[Label],
    ) -> Result<(), ViewError> {
        self.viewport.update(
            &gpu.queue,
            Resolution {
                width: size[0],
                height: size[1],
            },
        );
        self.buffers.clear();
        for l in labels {
            let mut b = Buffer::new(&mut self.fonts, Metrics::new(l.size, l.size * 1.25));
            b.set_size(Some(size[0] as f32), Some(l.size * 2.0));
            b.set_text(
                &l.text,
                &Attrs::new().family(Family::Name(FAMILY)),
                Shaping::Basic,
                None,
            );
            b.shape_until_scroll(&mut self.fonts, false);
            self.buffers.push(b);
        }
        let areas = self.buffers.iter().zip(labels).map(|(buffer, l)| TextArea {
            buffer,
            left: l.at[0],
            top: l.at[1],
            scale: 1.0,
            bounds: TextBounds {
                left: 0,
                top: 0,
                right: size[0] as i32,
                bottom: size[1] as i32,
            },
            default_color: Color::rgba(l.color[0], l.color[1], l.color[2], l.color[3]),
            custom_glyphs: &[],
        });
        self.renderer
            .prepare(
                &gpu.device,
                &gpu.queue,
                &mut self.fonts,
                &mut self.atlas,
                &self.viewport,
                areas,
                &mut self.swash,
            )
            .map_err(|e| ViewError::Gpu(format!("text: {e}")))
    }

    /// Draws what [`TextLayer::prepare`] uploaded.
    pub fn render(&self, pass: &mut wgpu::RenderPass<'_>) -> Result<(), ViewError> {
        self.renderer
            .render(&self.atlas, &self.viewport, pass)
            .map_err(|e| ViewError::Gpu(format!("text: {e}")))
    }

    /// Frees atlas space of glyphs no longer drawn.
    pub fn trim(&mut self) {
        self.atlas.trim();
    }
}
