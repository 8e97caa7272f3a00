//! The formula compiler: catalogue notation → a postfix program lowered to fused register
//! operations, evaluated over chunks of cells in f64 and rounded once to f32.

use super::*;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Var(usize),
    Const(f64),
    Bin(Op2),
    Neg,
}

/// A compiled formula: a stack program over named variables.
#[derive(Debug, Clone)]
pub struct Program {
    ops: Vec<Op>,
    /// Variable names, by index.
    pub vars: Vec<String>,
    /// Register form for one binding of the variables (see [`Program::lower`]).
    code: Vec<Instr>,
}

/// An operand of a register instruction: a slot of the evaluation stack, a variable's chunk, or
/// a constant.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Opd {
    Slot(usize),
    Var(usize),
    Const(f64),
}

/// `slot[dst] = post(a op b)` over a chunk (`Neg`: `-a`; `Mov`: `a`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Instr {
    op: Op2,
    a: Opd,
    b: Opd,
    dst: usize,
    /// A following `× c` or `+ c` fused into the same pass (see [`Program::fuse`]).
    post: Option<Post>,
}

/// A commutative constant operation applied to an instruction's result in the same pass:
/// `c × x` and `x × c` (or `+`) round identically, so fusing it changes no value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Post {
    Mul(f64),
    Add(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op2 {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Neg,
    Mov,
    /// `(a - b) / (a + b)`, the normalized difference, in one pass (same operations and
    /// rounding as the three it replaces).
    NormDiff,
    /// `(k·(a - b)) / ((a + b) + c)`: the normalized difference with a scaled numerator and an
    /// offset denominator (SAVI, OSAVI, ...), in one pass.
    ScaledNormDiff(f64, f64),
    /// `a + c·b`.
    AddScaled(f64),
    /// `a - c·b`.
    SubScaled(f64),
}

#[inline(always)]
fn pow(x: f64, y: f64) -> f64 {
    if y == 2.0 {
        x * x
    } else if y == 0.5 {
        x.sqrt()
    } else {
        x.powf(y)
    }
}

impl Op2 {
    #[inline(always)]
    fn f(self, x: f64, y: f64) -> f64 {
        match self {
            Op2::Add => x + y,
            Op2::Sub => x - y,
            Op2::Mul => x * y,
            Op2::Div => x / y,
            Op2::Pow => pow(x, y),
            Op2::Neg => -x,
            Op2::Mov => x,
            Op2::NormDiff => (x - y) / (x + y),
            Op2::ScaledNormDiff(k, c) => (k * (x - y)) / ((x + y) + c),
            Op2::AddScaled(c) => x + c * y,
            Op2::SubScaled(c) => x - c * y,
        }
    }
}

/// A chunk operand while evaluating.
enum Src<'a> {
    /// The destination slot's own values (in-place update).
    Same,
    Slice(&'a [f64]),
    Scalar(f64),
}

/// `d[i] = f(a[i], b[i])` with each operand a slice, a scalar or `d` itself; one tight loop per
/// shape so every case vectorises.
#[inline(always)]
fn apply(d: &mut [f64], a: Src<'_>, b: Src<'_>, f: impl Fn(f64, f64) -> f64) {
    let n = d.len();
    match (a, b) {
        (Src::Same, Src::Slice(y)) => d.iter_mut().zip(&y[..n]).for_each(|(x, y)| *x = f(*x, *y)),
        (Src::Same, Src::Scalar(c)) => d.iter_mut().for_each(|x| *x = f(*x, c)),
        (Src::Same, Src::Same) => d.iter_mut().for_each(|x| *x = f(*x, *x)),
        (Src::Slice(x), Src::Slice(y)) => d.iter_mut().zip(&x[..n]).zip(&y[..n]).for_each(|((o, x), y)| *o = f(*x, *y)),
        (Src::Slice(x), Src::Scalar(c)) => d.iter_mut().zip(&x[..n]).for_each(|(o, x)| *o = f(*x, c)),
        (Src::Scalar(c), Src::Slice(y)) => d.iter_mut().zip(&y[..n]).for_each(|(o, y)| *o = f(c, *y)),
        (Src::Scalar(c), Src::Same) => d.iter_mut().for_each(|x| *x = f(c, *x)),
        (Src::Slice(x), Src::Same) => d.iter_mut().zip(&x[..n]).for_each(|(o, x)| *o = f(*x, *o)),
        (Src::Scalar(c), Src::Scalar(e)) => d.fill(f(c, e)),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Id(String),
    Op(char),
    Pow,
    LParen,
    RParen,
}

fn lex(s: &str) -> Result<Vec<Tok>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let st = i;
            while i < b.len() && ((b[i] as char).is_ascii_digit() || b[i] == b'.' || b[i] == b'e' || b[i] == b'E') {
                if (b[i] == b'e' || b[i] == b'E') && i + 1 < b.len() && (b[i + 1] == b'-' || b[i + 1] == b'+') {
                    i += 1;
                }
                i += 1;
            }
            out.push(Tok::Num(s[st..i].parse().map_err(|_| Error::InvalidInput(format!("bad number in {s:?}")))?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let st = i;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Id(s[st..i].to_string()));
        } else if c == '*' && i + 1 < b.len() && b[i + 1] == b'*' {
            out.push(Tok::Pow);
            i += 2;
        } else if "+-*/".contains(c) {
            out.push(Tok::Op(c));
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else {
            return Err(Error::InvalidInput(format!("unexpected {c:?} in formula {s:?}")));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    t: &'a [Tok],
    i: usize,
    ops: Vec<Op>,
    vars: Vec<String>,
    src: &'a str,
}

impl Parser<'_> {
    fn err(&self) -> Error {
        Error::InvalidInput(format!("cannot parse formula {:?}", self.src))
    }
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    // expr := term (('+'|'-') term)*
    fn expr(&mut self) -> Result<()> {
        self.term()?;
        while let Some(Tok::Op(c @ ('+' | '-'))) = self.peek().cloned() {
            self.i += 1;
            self.term()?;
            self.ops.push(Op::Bin(if c == '+' { Op2::Add } else { Op2::Sub }));
        }
        Ok(())
    }
    // term := unary (('*'|'/') unary)*
    fn term(&mut self) -> Result<()> {
        self.unary()?;
        while let Some(Tok::Op(c @ ('*' | '/'))) = self.peek().cloned() {
            self.i += 1;
            self.unary()?;
            self.ops.push(Op::Bin(if c == '*' { Op2::Mul } else { Op2::Div }));
        }
        Ok(())
    }
    // unary := ('-'|'+') unary | power   (Python: -x**2 == -(x**2))
    fn unary(&mut self) -> Result<()> {
        match self.peek() {
            Some(Tok::Op('-')) => {
                self.i += 1;
                self.unary()?;
                self.ops.push(Op::Neg);
                Ok(())
            }
            Some(Tok::Op('+')) => {
                self.i += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }
    // power := atom ('**' unary)?   (right associative)
    fn power(&mut self) -> Result<()> {
        self.atom()?;
        if let Some(Tok::Pow) = self.peek() {
            self.i += 1;
            self.unary()?;
            self.ops.push(Op::Bin(Op2::Pow));
        }
        Ok(())
    }
    fn atom(&mut self) -> Result<()> {
        match self.peek().cloned() {
            Some(Tok::Num(v)) => {
                self.i += 1;
                self.ops.push(Op::Const(v));
            }
            Some(Tok::Id(name)) => {
                self.i += 1;
                let k = match self.vars.iter().position(|v| *v == name) {
                    Some(k) => k,
                    None => {
                        self.vars.push(name);
                        self.vars.len() - 1
                    }
                };
                self.ops.push(Op::Var(k));
            }
            Some(Tok::LParen) => {
                self.i += 1;
                self.expr()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.err());
                }
                self.i += 1;
            }
            _ => return Err(self.err()),
        }
        Ok(())
    }
}

/// The variables of a spectral index expression in the Awesome Spectral Indices grammar (`+ - * /
/// **`, parentheses, numbers, band and constant names), in order of first use; an expression the
/// parser refuses is `INVALID_INPUT`.
///
/// ```
/// assert_eq!(landopp::spectral::formula_variables("g*(N-R)/(N+C1*R-C2*B+L)")?, ["g", "N", "R", "C1", "C2", "B", "L"]);
/// assert_eq!(landopp::spectral::formula_variables("(N-R").unwrap_err().code(), "INVALID_INPUT");
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn formula_variables(expr: &str) -> Result<Vec<String>> {
    Ok(Program::compile(expr)?.vars)
}

impl Program {
    /// Compile a formula using `+ - * / **`, parentheses, numbers and variable names.
    pub fn compile(formula: &str) -> Result<Program> {
        let toks = lex(formula)?;
        let mut p = Parser { t: &toks, i: 0, ops: Vec::new(), vars: Vec::new(), src: formula };
        p.expr()?;
        if p.i != toks.len() {
            return Err(p.err());
        }
        let mut prog = Program { ops: p.ops, vars: p.vars, code: Vec::new() };
        // every variable a chunk of cells until bound
        prog.lower(&vec![None; prog.vars.len()]);
        Ok(prog)
    }

    /// Lower the stack program to register instructions for one binding (`scalar[k]`: variable
    /// `k` is the constant, else a chunk of cells): operands are read where they are (no copy of
    /// a variable onto the stack) and constant subexpressions are folded.
    pub(super) fn lower(&mut self, scalar: &[Option<f64>]) {
        self.code = Self::fuse(self.lower_code(scalar));
    }

    /// The register form, before [`Program::fuse`].
    fn lower_code(&self, scalar: &[Option<f64>]) -> Vec<Instr> {
        let mut st: Vec<Opd> = Vec::new();
        let mut code = Vec::new();
        for op in &self.ops {
            match op {
                Op::Var(k) => st.push(match scalar[*k] {
                    Some(c) => Opd::Const(c),
                    None => Opd::Var(*k),
                }),
                Op::Const(c) => st.push(Opd::Const(*c)),
                Op::Neg => {
                    let a = st.pop().unwrap_or(Opd::Const(f64::NAN));
                    let dst = st.len();
                    match a {
                        Opd::Const(c) => st.push(Opd::Const(-c)),
                        a => {
                            code.push(Instr { op: Op2::Neg, a, b: Opd::Const(0.0), dst, post: None });
                            st.push(Opd::Slot(dst));
                        }
                    }
                }
                Op::Bin(op2) => {
                    let op2 = *op2;
                    let b = st.pop().unwrap_or(Opd::Const(f64::NAN));
                    let a = st.pop().unwrap_or(Opd::Const(f64::NAN));
                    let dst = st.len();
                    match (a, b) {
                        (Opd::Const(x), Opd::Const(y)) => st.push(Opd::Const(op2.f(x, y))),
                        _ => {
                            code.push(Instr { op: op2, a, b, dst, post: None });
                            st.push(Opd::Slot(dst));
                        }
                    }
                }
            }
        }
        // the result must end in slot 0
        match st.pop() {
            Some(Opd::Slot(0)) => {}
            Some(a) => code.push(Instr { op: Op2::Mov, a, b: Opd::Const(0.0), dst: 0, post: None }),
            None => code.push(Instr { op: Op2::Mov, a: Opd::Const(f64::NAN), b: Opd::Const(0.0), dst: 0, post: None }),
        }
        code
    }

    /// Fewer passes over a chunk, with the same values: an instruction followed by `× c` or `+ c`
    /// of its result takes that as its [`Post`]; then `(x - y) / (x + y)` of two leaves becomes
    /// one [`Op2::NormDiff`] (`(x - y)·k / ((x + y) + c)` one [`Op2::ScaledNormDiff`]) and
    /// `a ± c·v` of a leaf `v` one [`Op2::AddScaled`] / [`Op2::SubScaled`]. A slot read by an
    /// instruction is dead afterwards (stack discipline), so the fused instruction may write
    /// where the second one did.
    fn fuse(code: Vec<Instr>) -> Vec<Instr> {
        let code = Self::fuse_posts(code);
        let leaf = |o: Opd| !matches!(o, Opd::Slot(_));
        let mut out: Vec<Instr> = Vec::with_capacity(code.len());
        let mut i = 0;
        while i < code.len() {
            if let [s, a, d, ..] = code[i..] {
                let same_pair = (a.a == s.a && a.b == s.b) || (a.a == s.b && a.b == s.a);
                let k = match s.post {
                    None => Some(1.0),
                    Some(Post::Mul(k)) => Some(k),
                    Some(Post::Add(_)) => None,
                };
                let c = match a.post {
                    None => Some(0.0),
                    Some(Post::Add(c)) => Some(c),
                    Some(Post::Mul(_)) => None,
                };
                if let (Op2::Sub, Op2::Add, Op2::Div, Some(k), Some(c), true, true, true) =
                    (s.op, a.op, d.op, k, c, leaf(s.a), leaf(s.b), same_pair)
                {
                    // `1·v` and `v + 0` are exact (a `-0` sum only where the numerator is 0 too:
                    // 0/±0 is NaN either way)
                    if a.dst == s.dst + 1 && d.a == Opd::Slot(s.dst) && d.b == Opd::Slot(a.dst) {
                        let op = match (s.post, a.post) {
                            (None, None) => Op2::NormDiff,
                            _ => Op2::ScaledNormDiff(k, c),
                        };
                        out.push(Instr { op, a: s.a, b: s.b, dst: d.dst, post: d.post });
                        i += 3;
                        continue;
                    }
                }
            }
            if let [m, x, ..] = code[i..] {
                // `c·v` of a leaf consumed by the next `+` or `-`
                let scaled = match (m.op, m.a, m.b, m.post) {
                    (Op2::Mul, Opd::Const(c), v, None) | (Op2::Mul, v, Opd::Const(c), None) if leaf(v) => Some((c, v)),
                    _ => None,
                };
                let t = Opd::Slot(m.dst);
                let fused = match (scaled, x.op) {
                    (Some((c, v)), Op2::Add) if x.b == t && x.a != t => Some((Op2::AddScaled(c), x.a, v)),
                    (Some((c, v)), Op2::Add) if x.a == t && x.b != t => Some((Op2::AddScaled(c), x.b, v)),
                    (Some((c, v)), Op2::Sub) if x.b == t && x.a != t => Some((Op2::SubScaled(c), x.a, v)),
                    _ => None,
                };
                if let Some((op, a, b)) = fused {
                    out.push(Instr { op, a, b, dst: x.dst, post: x.post });
                    i += 2;
                    continue;
                }
            }
            out.push(code[i]);
            i += 1;
        }
        out
    }

    /// The first step of [`Program::fuse`]: an instruction followed by `× c` or `+ c` of its
    /// result takes that as its [`Post`].
    fn fuse_posts(code: Vec<Instr>) -> Vec<Instr> {
        let mut out: Vec<Instr> = Vec::with_capacity(code.len());
        let mut i = 0;
        while i < code.len() {
            let ins = code[i];
            if let Some(prev) = out.last_mut() {
                let arith = matches!(prev.op, Op2::Add | Op2::Sub | Op2::Mul | Op2::Div);
                let post = match (ins.op, ins.a, ins.b) {
                    (Op2::Mul, Opd::Const(c), Opd::Slot(k)) | (Op2::Mul, Opd::Slot(k), Opd::Const(c))
                        if k == prev.dst =>
                    {
                        Some(Post::Mul(c))
                    }
                    (Op2::Add, Opd::Const(c), Opd::Slot(k)) | (Op2::Add, Opd::Slot(k), Opd::Const(c))
                        if k == prev.dst =>
                    {
                        Some(Post::Add(c))
                    }
                    _ => None,
                };
                if let (true, None, Some(p)) = (arith, prev.post, post) {
                    prev.post = Some(p);
                    prev.dst = ins.dst;
                    i += 1;
                    continue;
                }
            }
            out.push(ins);
            i += 1;
        }
        out
    }

    /// Evaluate over `n` cells; `var(k)` is variable `k` (its `n` cells, or a constant). The
    /// result is the first stack slot's `n` values.
    #[inline(always)]
    pub(super) fn eval_chunk<'s, 'i>(
        &self,
        var: impl Fn(usize) -> Input<'i>,
        n: usize,
        stack: &'s mut Vec<Vec<f64>>,
    ) -> &'s [f64] {
        if stack.is_empty() {
            stack.push(vec![0.0; CHUNK]);
        }
        Self::run(&self.code, &var, n, stack);
        &stack[0][..n]
    }

    /// [`Program::eval_chunk`] whose last instruction writes its result straight into `out`,
    /// masked: NaN where `valid` is zero or the result is infinite (the blend of
    /// [`masked`] in the same pass as the last operation, not a pass of its own).
    #[inline(always)]
    pub(super) fn eval_into<'i>(
        &self,
        var: impl Fn(usize) -> Input<'i>,
        n: usize,
        stack: &mut Vec<Vec<f64>>,
        out: &mut [f32],
        valid: &[u32],
    ) {
        let (d, ok) = (&mut out[..n], &valid[..n]);
        match self.code.split_last() {
            // the result is the last instruction's slot 0 (see `lower_code`)
            Some((last, head)) if last.dst == 0 => {
                Self::run(head, &var, n, stack);
                let leaf = |o: Opd| -> Leaf<'_> {
                    match o {
                        Opd::Slot(k) => Leaf::Slice(&stack[k][..n]),
                        Opd::Var(k) => match var(k) {
                            Input::Slice(s) => Leaf::Slice(&s[..n]),
                            Input::Scalar(v) => Leaf::Scalar(v),
                        },
                        Opd::Const(c) => Leaf::Scalar(c),
                    }
                };
                let (a, b) = (leaf(last.a), leaf(last.b));
                macro_rules! go {
                    ($f:expr) => {
                        apply_masked(d, ok, a, b, $f)
                    };
                }
                for_op!(last, go);
            }
            _ => {
                let r = self.eval_chunk(var, n, stack);
                apply_masked(d, ok, Leaf::Slice(r), Leaf::Scalar(0.0), |x, _| x);
            }
        }
    }

    /// Run `code` over `n` cells of the stack.
    #[inline(always)]
    fn run<'i>(code: &[Instr], var: &impl Fn(usize) -> Input<'i>, n: usize, stack: &mut Vec<Vec<f64>>) {
        for ins in code {
            while stack.len() <= ins.dst + 1 {
                stack.push(vec![0.0; CHUNK]);
            }
            let mut d = std::mem::take(&mut stack[ins.dst]);
            {
                let src = |o: Opd| -> Src<'_> {
                    match o {
                        Opd::Slot(k) if k == ins.dst => Src::Same,
                        Opd::Slot(k) => Src::Slice(&stack[k][..n]),
                        Opd::Var(k) => match var(k) {
                            Input::Slice(s) => Src::Slice(&s[..n]),
                            Input::Scalar(v) => Src::Scalar(v),
                        },
                        Opd::Const(c) => Src::Scalar(c),
                    }
                };
                let (a, b, dd) = (src(ins.a), src(ins.b), &mut d[..n]);
                macro_rules! go {
                    ($f:expr) => {
                        apply(dd, a, b, $f)
                    };
                }
                for_op!(ins, go);
            }
            stack[ins.dst] = d;
        }
    }
}

/// `$go!(f)` with `f` the scalar function of instruction `$ins` (its post-op included).
macro_rules! for_op {
    ($ins:expr, $go:ident) => {{
        macro_rules! with_post {
            ($f:expr) => {
                match $ins.post {
                    None => $go!($f),
                    Some(Post::Mul(c)) => $go!(|x, y| c * $f(x, y)),
                    Some(Post::Add(c)) => $go!(|x, y| $f(x, y) + c),
                }
            };
        }
        match $ins.op {
            Op2::Add => with_post!(|x: f64, y: f64| x + y),
            Op2::Sub => with_post!(|x: f64, y: f64| x - y),
            Op2::Mul => with_post!(|x: f64, y: f64| x * y),
            Op2::Div => with_post!(|x: f64, y: f64| x / y),
            Op2::NormDiff => with_post!(|x: f64, y: f64| (x - y) / (x + y)),
            Op2::ScaledNormDiff(k, c) => with_post!(|x: f64, y: f64| (k * (x - y)) / ((x + y) + c)),
            Op2::AddScaled(c) => with_post!(|x: f64, y: f64| x + c * y),
            Op2::SubScaled(c) => with_post!(|x: f64, y: f64| x - c * y),
            Op2::Pow => $go!(pow),
            Op2::Neg => $go!(|x: f64, _: f64| -x),
            Op2::Mov => $go!(|x: f64, _: f64| x),
        }
    }};
}
use for_op;

/// An operand of the last instruction: cells or a constant.
#[derive(Clone, Copy)]
enum Leaf<'a> {
    Slice(&'a [f64]),
    Scalar(f64),
}

/// `r` rounded to f32, or NaN where the lane mask `ok` is zero or the result is infinite — a bit
/// blend, no branch.
#[inline(always)]
fn masked(r: f64, ok: u32) -> f32 {
    // the f64 result rounded once to the f32 output (beyond f32's range: infinite, hence NaN)
    let b = (r as f32).to_bits();
    let finite = (((b & 0x7fff_ffff) != 0x7f80_0000) as u32).wrapping_neg();
    let keep = ok & finite;
    f32::from_bits((b & keep) | (f32::NAN.to_bits() & !keep))
}

/// `d[i] = masked(f(a[i], b[i]), ok[i])`, one tight loop per operand shape.
#[inline(always)]
fn apply_masked(d: &mut [f32], ok: &[u32], a: Leaf<'_>, b: Leaf<'_>, f: impl Fn(f64, f64) -> f64) {
    let n = d.len();
    let ok = &ok[..n];
    match (a, b) {
        (Leaf::Slice(x), Leaf::Slice(y)) => {
            d.iter_mut().zip(ok).zip(&x[..n]).zip(&y[..n]).for_each(|(((o, &k), x), y)| *o = masked(f(*x, *y), k))
        }
        (Leaf::Slice(x), Leaf::Scalar(c)) => {
            d.iter_mut().zip(ok).zip(&x[..n]).for_each(|((o, &k), x)| *o = masked(f(*x, c), k))
        }
        (Leaf::Scalar(c), Leaf::Slice(y)) => {
            d.iter_mut().zip(ok).zip(&y[..n]).for_each(|((o, &k), y)| *o = masked(f(c, *y), k))
        }
        (Leaf::Scalar(c), Leaf::Scalar(e)) => {
            let v = f(c, e);
            d.iter_mut().zip(ok).for_each(|(o, &k)| *o = masked(v, k))
        }
    }
}

/// Cells per chunk of [`compute_indices`] (and the evaluation stack's buffer size).
pub(super) const CHUNK: usize = 4096;

/// A variable's chunk while evaluating: cells (reflectance, widened to f64) or a constant.
pub(super) enum Input<'a> {
    Slice(&'a [f64]),
    Scalar(f64),
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn whole_catalogue_compiles() {
        assert!(indices().len() >= 200);
        for (name, i) in indices() {
            let p = Program::compile(&i.formula).unwrap_or_else(|e| panic!("{name}: {e}"));
            for v in &p.vars {
                assert!(i.bands.contains(v), "{name}: {v} not in its band list");
            }
        }
    }

    #[test]
    fn precedence_like_python() {
        let n = [2.0f64];
        let p = Program::compile("-x**2 + 3*x/2**2**1").unwrap();
        let mut st = Vec::new();
        let out = p.eval_chunk(|_| Input::Slice(&n), 1, &mut st);
        assert_eq!(out[0], -4.0 + 3.0 * 2.0 / 4.0);
    }

    /// Same bits, NaN equal to NaN.
    pub(in crate::spectral) fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// The formula evaluated the plain way: its postfix operations one value at a time in f64,
    /// no folding, no fusion — what spyndex computes on float64 arrays.
    fn reference(p: &Program, vals: &[f64]) -> f64 {
        let mut st: Vec<f64> = Vec::new();
        for op in &p.ops {
            match op {
                Op::Var(k) => st.push(vals[*k]),
                Op::Const(c) => st.push(*c),
                Op::Neg => {
                    let a = st.pop().unwrap_or(f64::NAN);
                    st.push(-a)
                }
                Op::Bin(o) => {
                    let b = st.pop().unwrap_or(f64::NAN);
                    let a = st.pop().unwrap_or(f64::NAN);
                    st.push(o.f(a, b))
                }
            }
        }
        st.pop().unwrap_or(f64::NAN)
    }

    /// Every index of the catalogue, on every kind of input (bright and dark pixels, equal and
    /// opposite bands, near-zero and exactly zero denominators, large DN), is the f64 formula's
    /// value rounded once to f32 — infinite results NaN. Computed in f32 before, EVI on a bright
    /// cloud pixel came out 3.3e4 where the f64 formula gives -1.8e13.
    #[test]
    fn every_index_is_the_f64_formula_rounded_to_f32() {
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // reflectances as they come from DN: (dn - 1000) / 10000 and Landsat's dn·2.75e-5 - 0.2
        let s2 = Sensor::sentinel2_l2a("04.00").unwrap();
        let mut pool: Vec<f64> = (0..4000).map(|_| s2.scale((next() % 20_000) as f64)).collect();
        pool.extend((0..2000).map(|_| Sensor::Landsat89.scale((next() % 65_536) as f64)));
        pool.extend([0.0, -0.0, 1e-4, -1e-4, 0.1, 0.1000001, 1.6, 2.0, 0.5]);
        let n = 4096;
        let mut checked = 0usize;
        for (name, idx) in indices() {
            let prog = Program::compile(&idx.formula).unwrap();
            let mut inputs: HashMap<String, Vec<f32>> = HashMap::new();
            let mut cols: Vec<Vec<f64>> = Vec::new();
            for (k, v) in prog.vars.iter().enumerate() {
                if is_band(v) {
                    // every third cell: a band equal to the previous one, for 0/0 and x/0 cases
                    let c: Vec<f64> = (0..n)
                        .map(|i| match (i % 3, k) {
                            (0, k) if k > 0 => cols[k - 1][i],
                            _ => pool[(next() % pool.len() as u64) as usize],
                        })
                        .collect();
                    // the public API takes f32 reflectance: exact for these inputs only after
                    // rounding, so the reference reads the same f32 values
                    let c32: Vec<f32> = c.iter().map(|x| *x as f32).collect();
                    cols.push(c32.iter().map(|x| *x as f64).collect());
                    inputs.insert(v.clone(), c32);
                } else {
                    cols.push(vec![constant_default(v).unwrap_or(0.5); n]);
                }
            }
            let mut inp = IndexInputs::default();
            for (k, v) in &inputs {
                inp.bands.insert(k.clone(), v);
            }
            for v in prog.vars.iter().filter(|v| !is_band(v)) {
                inp.constants.insert(v.clone(), constant_default(v).unwrap_or(0.5));
            }
            if inputs.is_empty() {
                continue; // an index of constants only has no cells
            }
            let out = &compute_indices(&[name.as_str()], &inp).unwrap()[0];
            for i in 0..n {
                let vals: Vec<f64> = cols.iter().map(|c| c[i]).collect();
                let want = reference(&prog, &vals) as f32;
                let want = if want.is_finite() { want } else { f32::NAN };
                assert!(
                    out[i].to_bits() == want.to_bits() || (out[i].is_nan() && want.is_nan()),
                    "{name} cell {i} {vals:?}: {} vs f64 formula {want}",
                    out[i]
                );
                checked += 1;
            }
        }
        assert!(checked > 200 * 4096, "{checked}");
    }

    #[test]
    fn fused_programs_give_the_same_bits() {
        let n = 997;
        // values with equal pairs, zeros, negatives and opposite pairs (0/0, x/0)
        let col = |k: usize| -> Vec<f64> {
            (0..n).map(|i| (((i * (7 + 2 * k) + k * 13) % 41) as f64 - 20.0) * 0.037 * (1 + k % 3) as f64).collect()
        };
        let cols: Vec<Vec<f64>> = (0..16).map(col).collect();
        let mut fused_any = 0;
        for (name, idx) in indices() {
            let mut p = Program::compile(&idx.formula).unwrap();
            let scalars: Vec<Option<f64>> = p
                .vars
                .iter()
                .map(|v| if is_band(v) { None } else { Some(constant_default(v).unwrap_or(0.5)) })
                .collect();
            let plain = p.lower_code(&scalars);
            p.lower(&scalars);
            fused_any += (p.code.len() < plain.len()) as usize;
            let var = |k: usize| Input::Slice(&cols[k % cols.len()]);
            let (mut s1, mut s2) = (Vec::new(), Vec::new());
            let fused = p.eval_chunk(var, n, &mut s1).to_vec();
            let q = Program { code: plain, ..p.clone() };
            let unfused = q.eval_chunk(var, n, &mut s2);
            for i in 0..n {
                assert!(same(fused[i], unfused[i]), "{name} cell {i}: {} vs {}", fused[i], unfused[i]);
            }
        }
        assert!(fused_any > 50, "only {fused_any} programs fused");
        // passes per chunk for the common indices
        for (name, passes) in [("NDVI", 1), ("NDWI", 1), ("SAVI", 1), ("OSAVI", 1), ("EVI", 4)] {
            let mut p = Program::compile(&index(name).unwrap().formula).unwrap();
            let scalars: Vec<Option<f64>> =
                p.vars.iter().map(|v| (!is_band(v)).then(|| constant_default(v).unwrap())).collect();
            p.lower(&scalars);
            assert_eq!(p.code.len(), passes, "{name}: {:?}", p.code);
        }
    }
}
