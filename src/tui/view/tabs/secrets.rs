//! Env (merged keys, masked values) and Keys (identity, recipients).

use super::*;

pub(super) fn env(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let (h, rest) = split_header(area);
    let mut head = vec![Span::styled("Env ", t.title())];
    head.extend(env_switcher(m, m.env.env_index, t));
    head.push(Span::styled(format!("  base → {}", m.env_name()), t.dim()));
    if m.env.loading {
        head.push(Span::styled(format!(" {}", spin(m)), t.warn()));
    }
    f.render_widget(Paragraph::new(Line::from(head)), h);
    if let Some(e) = &m.env.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), t.err())).wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    if m.env.keys.is_empty() && !m.env.loading {
        f.render_widget(
            Paragraph::new(format!(
                "No keys in base or {}. Press a to add one.",
                m.env_name()
            ))
            .style(t.dim())
            .wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    let key_w = m
        .env
        .keys
        .iter()
        .map(|k| k.key.len())
        .max()
        .unwrap_or(8)
        .clamp(8, if rest.width < 60 { 14 } else { 28 });
    let val_w = if rest.width < 60 { 8 } else { 20 };
    let rows: Vec<Line> = m
        .env
        .keys
        .iter()
        .map(|k| {
            let value = match &m.env.revealed {
                Some((key, v)) if *key == k.key => Span::styled(fit(v, val_w), t.warn()),
                _ => Span::styled(fit("••••••", val_w), t.dim()),
            };
            let mut spans = vec![Span::raw(fit(&k.key, key_w)), Span::raw(" "), value];
            spans.push(Span::styled(format!(" {}", k.layer), t.key()));
            if !k.overrides.is_empty() {
                spans.push(Span::styled(
                    format!(" (overrides {})", k.overrides.join(", ")),
                    t.dim(),
                ));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(
        Paragraph::new(list(rows, Some(m.env.selected), rest.height as usize, t)),
        rest,
    );
}

pub(super) fn keys(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let k = &m.keys;
    let mut top: Vec<Line> = vec![];
    match (&k.public_key, &k.identity_path) {
        (Some(pk), path) => {
            top.push(Line::from(vec![
                Span::styled("Identity ", t.title()),
                Span::styled(path.clone().unwrap_or_default(), t.dim()),
            ]));
            top.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(pk.clone(), t.key()),
            ]));
        }
        (None, Some(path)) => {
            top.push(Line::styled("Identity", t.title()));
            top.push(Line::styled(
                format!("  none at {path}; run `arcane identity new`"),
                t.warn(),
            ));
        }
        (None, None) if k.loading => {
            top.push(Line::styled(format!("Identity {}", spin(m)), t.title()));
        }
        (None, None) => top.push(Line::styled("Identity: unknown", t.title())),
    }
    if let Some((public, secret)) = &k.generated {
        top.push(Line::styled(
            "New machine key (shown until you leave this tab; put the secret in the machine's secret store, then `m` allows the public key):",
            t.warn(),
        ));
        top.push(Line::raw(format!("  public: {public}")));
        top.push(Line::raw(format!("  secret: {secret}")));
    }
    if let Some(e) = &k.error {
        top.push(Line::styled(e.clone(), t.err()));
    }
    let top_h = (top.len() as u16 + 1).min(area.height);
    let [a, b] = Layout::vertical([Constraint::Length(top_h), Constraint::Min(0)]).areas(area);
    f.render_widget(Paragraph::new(top).wrap(Wrap { trim: false }), a);
    let (h, rest) = split_header(b);
    f.render_widget(
        Paragraph::new(header(format!("Recipients ({})", k.recipients.len()), t)),
        h,
    );
    let narrow = rest.width < 60;
    let rows: Vec<Line> = k
        .recipients
        .iter()
        .map(|r| {
            let mut spans = vec![
                Span::raw(fit(&r.name, if narrow { 10 } else { 16 })),
                Span::styled(fit(&r.kind, 8), t.dim()),
                Span::styled(r.scopes.join(","), t.key()),
            ];
            if !narrow {
                spans.push(Span::styled(
                    format!("  {}", fit(&r.public_key, 24)),
                    t.dim(),
                ));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(
        Paragraph::new(list(rows, Some(k.selected), rest.height as usize, t)),
        rest,
    );
}
