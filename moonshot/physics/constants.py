"""Physical constants of the Earth–Moon system (km, s, rad).

Every value carries its source. These are the constants of the *world*; the MoonLaunch
environment may scale some of them for held-out ("new moon") scenarios, and it exposes the
values in force so that a planner can read them, as a mission designer reads an ephemeris.
"""

from __future__ import annotations

#: Earth's gravitational parameter GM, km^3/s^2. IERS Conventions (2010), Table 1.1 (TCG-compatible
#: value 3.986004418e14 m^3/s^2), identical to the WGS-84 value.
GM_EARTH = 398600.4418

#: Moon's gravitational parameter GM, km^3/s^2. JPL planetary ephemeris DE430
#: (Folkner et al. 2014, IPN Progress Report 42-196, Table 4: 4902.800066), rounded.
GM_MOON = 4902.800

#: Mean Earth–Moon distance (semi-major axis of the lunar orbit), km. NASA Goddard, Moon Fact Sheet.
EARTH_MOON_DISTANCE = 384400.0

#: Earth's equatorial radius, km. WGS-84 (NIMA TR8350.2, 3rd ed., 2000).
R_EARTH = 6378.137

#: Moon's volumetric mean radius, km. NASA Goddard, Moon Fact Sheet.
R_MOON = 1737.4

#: Eccentricity of the lunar orbit. NASA Goddard, Moon Fact Sheet.
MOON_ECCENTRICITY = 0.0549

#: Radius of the Moon's sphere of influence (Laplace), km: a (m/M)^(2/5) = 66,183 km with the
#: constants above; the value 66,100 km is the one quoted in Curtis, "Orbital Mechanics for
#: Engineering Students" (4th ed.), Example 8.1 / Table A.2.
MOON_SOI = 66100.0

#: Seconds in a day.
DAY = 86400.0

#: Mass ratio mu = M_moon / (M_earth + M_moon) of the restricted three-body problem (0.012150...).
MU_EARTH_MOON = GM_MOON / (GM_EARTH + GM_MOON)

#: Sun's gravitational parameter GM, km^3/s^2. IAU 2015 Resolution B3 nominal value
#: (1.3271244e20 m^3/s^2); DE430 gives 132712440041.9394.
GM_SUN = 1.3271244e11

#: Astronomical unit, km. IAU 2012 Resolution B2 (exact): the mean Earth-Sun distance used here.
AU = 149597870.7
